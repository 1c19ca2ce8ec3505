//! `podwarden-emulator-sshd`: what the emulator binds at `/usr/sbin/sshd` in images that ship
//! OpenSSH's server (see the library's overview).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(podwarden_emulator_sshd::main(&args));
}
