//! Throughput of a `PatternSet` as the number of rules grows, on two workloads:
//!
//! - exact: every rule names an exact `source` and `detail-type` (plus one other condition),
//!   so the set finds an event's few candidate rules by hash;
//! - overlapping: rules share `source` and `detail-type` prefixes and overlapping numeric
//!   ranges, so an event satisfies many rules' conditions and the set has to test them.
//!
//! Run with `cargo run --release --example bench_patterns`. Prints one line per workload and
//! rule count (`rules= events_per_s= matches_per_event=` for the exact workload, the same
//! keys prefixed `overlapping_` for the other), then `overlapping_ratio_10k_over_1=` and
//! finally `ratio_10k_over_1=<exact throughput at 10,000 rules / at 1 rule>`.
//!
//! Before a set is timed, its answers on a sample of events are compared with matching each
//! rule alone; the timed loop only matches.

use std::time::{Duration, Instant};

use eventual_pattern::{EventPattern, PatternSet, RuleId};
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
/// Each a prefix of the longer ones, so an event's source satisfies several.
const SOURCE_PREFIXES: [&str; 4] = [
    "com.",
    "com.example.",
    "com.example.svc1",
    "com.example.svc12",
];
const DETAIL_TYPE_PREFIXES: [&str; 4] = ["Order", "OrderS", "Payment", "I"];
/// Amounts in events are below this.
const AMOUNTS: u64 = 2000;

/// A rule of the exact workload: exact source and detail-type, and one more condition.
fn exact_rule_text(rng: &mut XorShift) -> String {
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
            "amount": rng.below(AMOUNTS),
            "customer": {"id": rng.next() % 100_000, "tier": if rng.below(2) == 0 { "gold-plus" } else { "silver" }},
            "sku": format!("SKU-{}-{}", rng.below(10), rng.below(1000)),
            "priority": if rng.below(10) == 0 { "high" } else { "normal" },
            "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]
        }
    })
}

/// A rule of the overlapping workload: a source prefix and a numeric range on the amount
/// (each bound open or closed), often a detail-type or tier prefix too.
fn overlapping_rule_text(rng: &mut XorShift) -> String {
    let pick = |rng: &mut XorShift, choices: &[&'static str]| {
        choices[rng.below(choices.len() as u64) as usize]
    };
    let low = rng.below(AMOUNTS);
    let high = low + 1 + rng.below(AMOUNTS / 4);
    let lower = if rng.below(2) == 0 { ">" } else { ">=" };
    let upper = if rng.below(2) == 0 { "<" } else { "<=" };
    let mut rule = json!({
        "source": [{"prefix": pick(rng, &SOURCE_PREFIXES)}],
        "detail": {"amount": [{"numeric": [lower, low, upper, high]}]},
    });
    match rng.below(3) {
        0 => rule["detail-type"] = json!([{"prefix": pick(rng, &DETAIL_TYPE_PREFIXES)}]),
        1 => rule["detail"]["customer"] = json!({"tier": [{"prefix": "gold"}]}),
        _ => {}
    }
    rule.to_string()
}

/// A family of generated rules.
struct Workload {
    /// Put before every output key: empty for the exact workload, whose keys predate the other.
    key_prefix: &'static str,
    rule_text: fn(&mut XorShift) -> String,
}

const EXACT: Workload = Workload {
    key_prefix: "",
    rule_text: exact_rule_text,
};
const OVERLAPPING: Workload = Workload {
    key_prefix: "overlapping_",
    rule_text: overlapping_rule_text,
};

/// How many events the set's answers are checked on before it is timed.
const CHECKED_EVENTS: usize = 200;

/// Every event of `sample` matches, in `set`, exactly the rules that match it alone.
fn check_against_single_matching(
    set: &PatternSet,
    rules: &[(RuleId, EventPattern)],
    sample: &[Value],
) {
    for event in sample {
        let expected: Vec<RuleId> = rules
            .iter()
            .filter(|(_, pattern)| pattern.matches(event))
            .map(|(id, _)| *id)
            .collect();
        let found = set.matches(event);
        assert_eq!(
            found,
            expected,
            "the set disagrees with matching each of {} rules alone on {event}",
            rules.len()
        );
    }
}

fn throughput(workload: &Workload, rule_count: usize, events: &[Value]) -> f64 {
    let Workload {
        key_prefix: key,
        rule_text,
    } = workload;
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ rule_count as u64);
    let mut rules = Vec::with_capacity(rule_count);
    for id in 0..rule_count {
        let text = rule_text(&mut rng);
        match EventPattern::parse(&text) {
            Ok(pattern) => rules.push((id, pattern)),
            Err(e) => eprintln!("skipping invalid generated rule {text}: {e}"),
        }
    }
    let mut set = PatternSet::new();
    for (id, pattern) in &rules {
        set.insert(*id, pattern);
    }
    check_against_single_matching(&set, &rules, &events[..CHECKED_EVENTS.min(events.len())]);

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
    let per_second = processed as f64 / start.elapsed().as_secs_f64();

    let candidates: usize = events.iter().map(|e| set.candidate_count(e)).sum();
    eprintln!(
        "{key}rules={rule_count} {key}candidates_per_event={:.1}",
        candidates as f64 / events.len() as f64
    );
    println!(
        "{key}rules={rule_count} {key}events_per_s={per_second:.0} {key}matches_per_event={:.2}",
        matched as f64 / processed as f64
    );
    per_second
}

/// Times `workload` at 1, 100, 1,000 and 10,000 rules, printing each; returns the throughput
/// at 10,000 rules over the throughput at 1 rule.
fn measure_scaling(workload: &Workload, events: &[Value]) -> f64 {
    let sizes = [1, 100, 1_000, 10_000];
    let results: Vec<f64> = sizes
        .iter()
        .map(|&n| throughput(workload, n, events))
        .collect();
    results[3] / results[0]
}

fn main() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let events: Vec<Value> = (0..2000).map(|_| event(&mut rng)).collect();
    let exact = measure_scaling(&EXACT, &events);
    let overlapping = measure_scaling(&OVERLAPPING, &events);
    // Far below 1: three decimals would round it away.
    println!("overlapping_ratio_10k_over_1={overlapping:.5}");
    // Last, as it always was: the figure to compare.
    println!("ratio_10k_over_1={exact:.3}");
}
