//! viator-check-rdb: checks an RDB file as redis-check-rdb 7.0 does
//! (`viator-check-rdb <file>`), printing its report and exiting 0 when the
//! file looks OK, 1 otherwise. All the work is in `viator::rdb::check`;
//! this front end only hands over the command line.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(viator::rdb::check::main(&args));
}
