//! `pyzor-assets OUTDIR`: writes shell completions and man pages for
//! `pyzor` and `pyzord` under OUTDIR (see the crate documentation).

fn main() -> std::process::ExitCode {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: pyzor-assets OUTDIR");
        return std::process::ExitCode::from(2);
    };
    match pyzor_packaging::generate(std::path::Path::new(&out)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pyzor-assets: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
