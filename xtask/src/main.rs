//! Project tasks.
//!
//! `cargo run -p xtask -- codegen` writes the typed actions, events and
//! values of `amiproto::types` (and a test helper) from the facts in
//! `tests/data/asterisk-api/`; `codegen --check` fails when the committed
//! files differ from what it would write (CI runs it).

mod curate;
mod emit;
mod model;
mod names;
mod plan;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "usage: cargo run -p xtask -- codegen [--check]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["codegen"] => false,
        ["codegen", "--check"] => true,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match codegen(&workspace_root(), check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Generate every file; write them (or, with `check`, compare). Returns
/// whether everything was (or already is) up to date.
fn codegen(root: &Path, check: bool) -> Result<bool, String> {
    let api = model::load(&root.join("tests/data/asterisk-api"))?;
    let plan = plan::plan(&api)?;
    let gen = root.join("amiproto/src/types/generated");
    let files = [
        (gen.join("events.rs"), emit::events(&plan)),
        (gen.join("actions.rs"), emit::actions(&plan)),
        (gen.join("values.rs"), emit::values(&plan)),
        (
            root.join("amiproto/tests/typed/visit.rs"),
            emit::visit(&plan),
        ),
    ];
    let mut up_to_date = true;
    for (path, text) in files {
        let text = rustfmt(&text)?;
        let old = std::fs::read_to_string(&path).ok();
        if old.as_deref() == Some(text.as_str()) {
            continue;
        }
        up_to_date = false;
        let shown = path.strip_prefix(root).unwrap_or(&path).display();
        if check {
            eprintln!("{shown} is out of date: run `cargo run -p xtask -- codegen`");
        } else {
            std::fs::create_dir_all(path.parent().unwrap())
                .and_then(|()| std::fs::write(&path, &text))
                .map_err(|e| format!("{shown}: {e}"))?;
            eprintln!("wrote {shown}");
        }
    }
    eprintln!(
        "{} events, {} actions, {} generated value enums",
        plan.events.len(),
        plan.actions.len(),
        plan.enums.len()
    );
    Ok(!check || up_to_date)
}

/// Format with the toolchain's rustfmt, as `cargo fmt` would.
fn rustfmt(text: &str) -> Result<String, String> {
    let mut child = Command::new(std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into()))
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("rustfmt: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    writer
        .join()
        .expect("writer thread")
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("rustfmt: {e}"))
}
