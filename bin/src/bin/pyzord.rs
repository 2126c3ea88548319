//! `pyzord`: the Pyzor server (see `pyzord --help`).

fn main() -> std::process::ExitCode {
    let code = pyzor_rs::pyzord::run(std::env::args_os().collect());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
