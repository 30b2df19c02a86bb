//! Prints each sled tree of a data directory: entries, key and value bytes, and bytes per
//! order. `cargo run --release --example tree_sizes -- DATA_DIR` (stop the server first).
fn main() {
    let dir = std::env::args().nth(1).expect("usage: tree_sizes DATA_DIR");
    let db = sled::Config::new()
        .path(std::path::Path::new(&dir).join("db"))
        .open()
        .expect("open");
    let orders = db.open_tree("orders").expect("orders").len().max(1) as f64;
    let (mut tk, mut tv, mut tn) = (0usize, 0usize, 0usize);
    println!(
        "{:<18} {:>10} {:>12} {:>12} {:>10}",
        "tree", "entries", "key bytes", "value bytes", "B/order"
    );
    let mut names = db.tree_names();
    names.sort();
    for name in names {
        let tree = db.open_tree(&name).expect("tree");
        let (mut n, mut k, mut v) = (0usize, 0usize, 0usize);
        for kv in tree.iter() {
            let (key, val) = kv.expect("read");
            n += 1;
            k += key.len();
            v += val.len();
        }
        tn += n;
        tk += k;
        tv += v;
        println!(
            "{:<18} {:>10} {:>12} {:>12} {:>10.0}",
            String::from_utf8_lossy(&name),
            n,
            k,
            v,
            (k + v) as f64 / orders
        );
    }
    println!(
        "{:<18} {:>10} {:>12} {:>12} {:>10.0}",
        "all",
        tn,
        tk,
        tv,
        (tk + tv) as f64 / orders
    );
    println!("size on disk: {} bytes", db.size_on_disk().unwrap_or(0));
}
