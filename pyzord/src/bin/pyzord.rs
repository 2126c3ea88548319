//! `pyzord`: the Pyzor server (see `pyzord --help`).

fn main() -> std::process::ExitCode {
    let code = pyzord::cli::run(std::env::args_os().collect());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
