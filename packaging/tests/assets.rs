//! The generated completions and man pages describe the real command
//! lines, the completions are valid shell, and the systemd units pass
//! `systemd-analyze verify` (when it is installed).

use std::path::Path;
use std::process::Command;

#[test]
fn completions_and_man_pages_describe_the_commands() {
    let out = tempfile::tempdir().unwrap();
    let files = pyzor_packaging::generate(out.path()).unwrap();
    assert_eq!(files.len(), 14, "{files:?}");
    let read = |p: &str| std::fs::read_to_string(out.path().join(p)).unwrap();

    let bash = read("completions/bash/pyzord.bash");
    for needle in [
        "--forward-client-homedir",
        "--database-engine",
        "--metrics",
        "migrate",
        "stats",
    ] {
        assert!(
            bash.contains(needle),
            "{needle} not in the pyzord bash completion"
        );
    }
    let bash = read("completions/bash/pyzor.bash");
    for needle in ["--homedir", "--style", "--servers-file", "--listen"] {
        assert!(
            bash.contains(needle),
            "{needle} not in the pyzor bash completion"
        );
    }
    assert!(read("completions/zsh/_pyzord").contains("--cleanup-age"));
    assert!(read("completions/fish/pyzor.fish").contains("accounts-file"));

    let man = read("man/man1/pyzord.1");
    assert!(man.starts_with(".ie \\n(.g .ds Aq"), "not roff");
    assert!(man.contains("pyzord"));
    assert!(man.contains("cleanup\\-age"), "options are in the page");
    assert!(read("man/man1/pyzord-migrate.1").contains("verify"));
    assert!(read("man/man1/pyzord-stats.1").contains("ENGINE"));
    assert!(read("man/man1/pyzor.1").contains("homedir"));

    // the completions parse as shell
    if Path::new("/bin/bash").exists() {
        for f in [
            "completions/bash/pyzor.bash",
            "completions/bash/pyzord.bash",
        ] {
            let st = Command::new("bash")
                .arg("-n")
                .arg(out.path().join(f))
                .status()
                .unwrap();
            assert!(st.success(), "{f}");
        }
    }
}

#[test]
fn systemd_units_verify() {
    let Ok(which) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!(
            "systemd-analyze not installed: skipping the unit check (apt-get install systemd)"
        );
        return;
    };
    assert!(which.status.success());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // point ExecStart at executables that exist here
    let true_bin = which_bin("true");
    for unit in ["pyzord.service", "pyzor-serve.service"] {
        let text = std::fs::read_to_string(root.join("systemd").join(unit)).unwrap();
        assert!(
            text.contains("Type=notify"),
            "{unit}: readiness notification"
        );
        assert!(text.contains("NoNewPrivileges=yes"), "{unit}: hardening");
        let text = text
            .replace("/usr/bin/pyzord", &true_bin)
            .replace("/usr/bin/pyzor", &true_bin);
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("pyzord.service"))
        .arg(dir.path().join("pyzor-serve.service"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which_bin(name: &str) -> String {
    for dir in ["/usr/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p.display().to_string();
        }
    }
    panic!("{name} not found");
}
