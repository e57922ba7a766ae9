//! Throughput of a `PatternSet` as the number of rules grows.
//!
//! Run with `cargo run --release --example bench_patterns`. Prints one line per rule count
//! and finally `ratio_10k_over_1=<throughput at 10,000 rules / at 1 rule>`.

use std::time::{Duration, Instant};

use eventual_pattern::{EventPattern, PatternSet};
use serde_json::{json, Value};

/// A fixed-seed xorshift generator, so every run benchmarks the same rules and events.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SOURCES: u64 = 500;
const DETAIL_TYPES: [&str; 6] = [
    "OrderPlaced",
    "OrderShipped",
    "PaymentFailed",
    "UserSignedUp",
    "InvoiceIssued",
    "ItemRestocked",
];
const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-south-1", "us-west-2"];

fn rule_text(rng: &mut XorShift) -> String {
    let source = format!("com.example.svc{}", rng.below(SOURCES));
    let detail_type = DETAIL_TYPES[rng.below(DETAIL_TYPES.len() as u64) as usize];
    let extra = match rng.below(7) {
        0 => {
            json!({"detail": {"amount": [{"numeric": [">", rng.below(1000), "<=", 1000 + rng.below(1000)]}]}})
        }
        1 => json!({"detail": {"customer": {"tier": [{"prefix": "gold"}]}}}),
        2 => json!({"region": [{"anything-but": [REGIONS[rng.below(4) as usize]]}]}),
        3 => json!({"detail": {"coupon": [{"exists": rng.below(2) == 0}]}}),
        4 => json!({"detail": {"sku": [{"wildcard": format!("SKU-{}*", rng.below(10))}]}}),
        5 => json!({"$or": [
            {"detail": {"priority": ["high"]}},
            {"detail": {"amount": [{"numeric": [">=", 5000]}]}}
        ]}),
        _ => json!({"detail-type": [detail_type]}),
    };
    let mut rule = json!({"source": [source], "detail-type": [detail_type]});
    if let (Some(base), Value::Object(more)) = (rule.as_object_mut(), extra) {
        for (key, value) in more {
            base.insert(key, value);
        }
    }
    rule.to_string()
}

fn event(rng: &mut XorShift) -> Value {
    json!({
        "version": "0",
        "id": format!("evt-{}", rng.next()),
        "source": format!("com.example.svc{}", rng.below(SOURCES)),
        "detail-type": DETAIL_TYPES[rng.below(DETAIL_TYPES.len() as u64) as usize],
        "account": "123456789012",
        "region": REGIONS[rng.below(4) as usize],
        "time": "2024-05-01T12:00:00Z",
        "resources": [],
        "detail": {
            "amount": rng.below(2000),
            "customer": {"id": rng.next() % 100_000, "tier": if rng.below(2) == 0 { "gold-plus" } else { "silver" }},
            "sku": format!("SKU-{}-{}", rng.below(10), rng.below(1000)),
            "priority": if rng.below(10) == 0 { "high" } else { "normal" },
            "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]
        }
    })
}

fn throughput(rules: usize, events: &[Value]) -> f64 {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ rules as u64);
    let mut set = PatternSet::new();
    for id in 0..rules {
        let text = rule_text(&mut rng);
        match EventPattern::parse(&text) {
            Ok(pattern) => set.insert(id, &pattern),
            Err(e) => eprintln!("skipping invalid generated rule {text}: {e}"),
        }
    }
    let budget = Duration::from_millis(1500);
    let start = Instant::now();
    let mut processed = 0usize;
    let mut matched = 0usize;
    while start.elapsed() < budget {
        for event in events {
            matched += set.matches(event).len();
        }
        processed += events.len();
    }
    let candidates: usize = events.iter().map(|e| set.candidate_count(e)).sum();
    eprintln!(
        "rules={rules} candidates_per_event={:.1}",
        candidates as f64 / events.len() as f64
    );
    let per_second = processed as f64 / start.elapsed().as_secs_f64();
    println!(
        "rules={rules} events_per_s={per_second:.0} matches_per_event={:.2}",
        matched as f64 / processed as f64
    );
    per_second
}

fn main() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let events: Vec<Value> = (0..2000).map(|_| event(&mut rng)).collect();
    let sizes = [1, 100, 1_000, 10_000];
    let results: Vec<f64> = sizes.iter().map(|&n| throughput(n, &events)).collect();
    let ratio = results[3] / results[0];
    println!("ratio_10k_over_1={ratio:.3}");
}
