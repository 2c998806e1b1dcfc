//! The workspace's `rust-version` is honest about the lock: no locked
//! package declares that it needs a newer Rust (the MSRV-aware resolver,
//! `resolver = "3"`, keeps it so when dependencies are added or updated).

use std::process::Command;

use serde_json::Value;

/// `1.85` or `1.85.0` as comparable numbers.
fn version(v: &str) -> (u64, u64, u64) {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn no_locked_package_needs_a_newer_rust_than_the_workspace() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed (is Cargo.lock up to date?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let workspace: Vec<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let packages = meta["packages"].as_array().unwrap();
    let msrv = packages
        .iter()
        .filter(|p| workspace.contains(&p["id"].as_str().unwrap()))
        .map(|p| {
            p["rust_version"]
                .as_str()
                .expect("every member sets rust-version")
        })
        .map(version)
        .max()
        .expect("workspace members");
    let too_new: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            (version(rv) > msrv).then(|| format!("{} {} needs {rv}", p["name"], p["version"]))
        })
        .collect();
    assert!(
        too_new.is_empty(),
        "locked packages above the workspace's rust-version {msrv:?}: {too_new:?}"
    );
    // The members agree with each other.
    for p in packages
        .iter()
        .filter(|p| workspace.contains(&p["id"].as_str().unwrap()))
    {
        assert_eq!(
            version(p["rust_version"].as_str().unwrap()),
            msrv,
            "{}",
            p["name"]
        );
    }
}
