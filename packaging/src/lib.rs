//! Packaging assets generated from the command-line definitions of `pyzor`
//! and `pyzord` (the same `clap` types the binaries parse with, so they
//! cannot drift): shell completions (bash, zsh, fish, elvish, PowerShell)
//! and man pages (`pyzor.1`, `pyzord.1`, and one per `pyzord`
//! subcommand).

use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

/// The command definitions: `pyzor` and `pyzord`.
pub fn commands() -> Vec<clap::Command> {
    vec![
        pyzor_rs::pyzor::Args::command()
            .version(env!("CARGO_PKG_VERSION"))
            .about(
                "Pyzor client: check, report and whitelist messages (a drop-in for pyzor 1.1.2)",
            ),
        pyzor_rs::pyzord::Args::command()
            .version(env!("CARGO_PKG_VERSION"))
            .about("Pyzor server (a drop-in for pyzord 1.1.2)"),
    ]
}

/// Writes `completions/<shell>/...` and `man/man1/*.1` under `out`;
/// returns the files written.
pub fn generate(out: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for mut cmd in commands() {
        let name = cmd.get_name().to_owned();
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let dir = out.join("completions").join(shell.to_string());
            std::fs::create_dir_all(&dir)?;
            written.push(clap_complete::generate_to(shell, &mut cmd, &name, &dir)?);
        }
        let man = out.join("man").join("man1");
        std::fs::create_dir_all(&man)?;
        cmd.build();
        written.push(write_man(&cmd, &name, &man)?);
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let page = format!("{name}-{}", sub.get_name());
            let sub = sub.clone().name(page.clone());
            written.push(write_man(&sub, &page, &man)?);
        }
    }
    Ok(written)
}

fn write_man(cmd: &clap::Command, name: &str, dir: &Path) -> io::Result<PathBuf> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf)?;
    Ok(path)
}
