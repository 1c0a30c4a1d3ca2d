//! Writes every target's seed inputs into `fuzz/corpus/<target>/`, named by their contents, as a
//! fuzzer names what it keeps: `cargo run -p fuzzing --example seeds`.

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    path::Path,
};

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (target, _) in fuzzing::TARGETS {
        let directory = corpus.join(target);
        std::fs::create_dir_all(&directory).expect("the corpus directory");
        let seeds = fuzzing::seeds::seeds(target);
        for seed in &seeds {
            let mut hasher = DefaultHasher::new();
            seed.hash(&mut hasher);
            let name = format!("seed-{:016x}", hasher.finish());
            std::fs::write(directory.join(name), seed).expect("a seed file");
        }
        println!("{target}: {} seeds", seeds.len());
    }
}
