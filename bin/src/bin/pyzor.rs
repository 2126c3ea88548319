//! `pyzor`: the Pyzor client command (see `pyzor --help`).

fn main() -> std::process::ExitCode {
    pyzor_rs::pyzor::main()
}
