//! The build-script side: validate the linked registry and write the artifacts into
//! `target/eventual/<service>/`.
//!
//! A build script sees only the registry entries of the crates it links, so a service keeps
//! its workflows, tasks and handlers in library crates, lists them in `[build-dependencies]`
//! and names each in `build.rs`:
//!
//! ```ignore
//! // build.rs
//! extern crate order_service; // keeps the crate (and its registry entries) linked
//!
//! fn main() {
//!     eventual_runtime::build::emit("order-service", &["order_service"]);
//! }
//! ```
//!
//! The crate list is the guard against the linker's silent drop: a declared crate none of
//! whose items made it into the registry fails the build, as does an empty registry.

use super::{generate_version, Artifacts, Inventory, ValidationError, UNVERSIONED};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why the artifacts were not written.
#[derive(Debug)]
pub enum BuildError {
    /// The registry cannot be deployed.
    Invalid(ValidationError),
    /// The output directory could not be found (no `OUT_DIR`: not in a build script?).
    NoTargetDir,
    /// Writing failed.
    Io(PathBuf, io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Invalid(error) => error.fmt(f),
            BuildError::NoTargetDir => f.write_str(
                "cannot find the target directory: OUT_DIR is not set (call this from a build \
                 script) and no output directory was given",
            ),
            BuildError::Io(path, error) => write!(f, "cannot write {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for BuildError {}

/// What [`Service::emit`] did.
#[derive(Clone, Debug)]
pub struct Emitted {
    /// The directory written.
    pub dir: PathBuf,
    /// The files of the service.
    pub artifacts: Artifacts,
    /// The files whose bytes changed (others were left untouched).
    pub changed: Vec<String>,
}

/// A service whose artifacts a build script writes.
#[derive(Clone, Debug)]
pub struct Service {
    name: String,
    version: Option<String>,
    crates: Vec<String>,
    target_dir: Option<PathBuf>,
}

impl Service {
    /// The service `name` (the directory under `target/eventual/`, the prefix of AWS names).
    pub fn new(name: impl Into<String>) -> Service {
        Service {
            name: name.into(),
            version: None,
            crates: Vec::new(),
            target_dir: None,
        }
    }

    /// The service's version (the OpenAPI document's `info.version`). [`Service::emit`]
    /// defaults it to the version of the package whose build script runs
    /// (`CARGO_PKG_VERSION`, which Cargo sets for build scripts); otherwise it is
    /// [`UNVERSIONED`].
    pub fn version(mut self, version: impl Into<String>) -> Service {
        self.version = Some(version.into());
        self
    }

    /// The crates that hold the service's items, as named in `extern crate` (`-` or `_`).
    /// Each must contribute at least one item, or the build fails.
    pub fn crates(mut self, crates: &[&str]) -> Service {
        self.crates = crates.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// Writes into `dir/eventual/<service>/` instead of the build's target directory.
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Service {
        self.target_dir = Some(dir.into());
        self
    }

    /// Validates the linked registry and writes the files whose bytes changed; from a build
    /// script, the version defaults to its package's.
    pub fn emit(&self) -> Result<Emitted, BuildError> {
        let mut service = self.clone();
        if service.version.is_none() {
            service.version = std::env::var("CARGO_PKG_VERSION").ok();
        }
        service.emit_inventory(&Inventory::linked())
    }

    /// Validates `inventory` and renders every artifact, without writing them.
    pub fn generate(&self, inventory: &Inventory) -> Result<Artifacts, ValidationError> {
        let crates: Vec<&str> = self.crates.iter().map(String::as_str).collect();
        let version = self.version.as_deref().unwrap_or(UNVERSIONED);
        generate_version(&self.name, version, inventory, &crates)
    }

    /// [`Service::emit`] for a given inventory.
    pub fn emit_inventory(&self, inventory: &Inventory) -> Result<Emitted, BuildError> {
        let artifacts = self.generate(inventory).map_err(BuildError::Invalid)?;
        let target = match &self.target_dir {
            Some(dir) => dir.clone(),
            None => target_dir().ok_or(BuildError::NoTargetDir)?,
        };
        let dir = target.join("eventual").join(&self.name);
        let changed = write_all(&dir, &artifacts)?;
        Ok(Emitted {
            dir,
            artifacts,
            changed,
        })
    }
}

/// The one-line build script: emits the artifacts of `service` from the crates `crates`
/// (each also named with `extern crate` in `build.rs`), or fails the build with every
/// problem found.
pub fn emit(service: &str, crates: &[&str]) {
    println!("cargo:rerun-if-changed=build.rs");
    match Service::new(service).crates(crates).emit() {
        Ok(emitted) => {
            for warning in emitted.artifacts.warnings() {
                println!("cargo:warning=eventual: {warning}");
            }
        }
        Err(error) => {
            eprintln!("error: eventual: {error}");
            std::process::exit(1);
        }
    }
}

/// The build's target directory, from `OUT_DIR` (`<target>[/<triple>]/<profile>/build/<pkg>/out`):
/// the nearest ancestor holding Cargo's `CACHEDIR.TAG`, else an absolute `CARGO_TARGET_DIR`,
/// else the parent of the profile directory.
pub fn target_dir() -> Option<PathBuf> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR")?);
    if let Some(dir) = out
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
    {
        return Some(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        if dir.is_absolute() {
            return Some(dir);
        }
    }
    let build = out
        .ancestors()
        .find(|dir| dir.file_name() == Some("build".as_ref()))?;
    build.parent()?.parent().map(Path::to_path_buf)
}

/// Writes each file whose bytes differ, atomically; removes diagrams of workflows that are
/// gone. Returns the names written.
fn write_all(dir: &Path, artifacts: &Artifacts) -> Result<Vec<String>, BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| BuildError::Io(path, error)
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut changed = Vec::new();
    for (name, text) in &artifacts.files {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() == Some(text.as_bytes()) {
            continue;
        }
        let temp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&temp, text).map_err(io(&temp))?;
        std::fs::rename(&temp, &path).map_err(io(&path))?;
        changed.push(name.clone());
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".mmd") && !artifacts.files.contains_key(&name) {
                std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
                changed.push(name);
            }
        }
    }
    Ok(changed)
}
