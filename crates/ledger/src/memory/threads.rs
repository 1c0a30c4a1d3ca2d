//! Lines of states on disk built, settled, forked, copied and dropped at random while two
//! threads read random live states of them, with no waits: the file's writer runs under the
//! readers. Every read must match its state's model. `EQUA_STORE_CASES` and `EQUA_STORE_SEED`
//! pick the cases (40 from seed 1 by default), `EQUA_STORE_KEYS` the span of keys (40).

use super::*;
use crate::Store;
use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering},
};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("equa-store-threads-{}", std::process::id()))
}

fn disk(write_batch: usize, cached_values: usize, read_values: usize) -> OnDisk {
    OnDisk {
        dir: dir(),
        cache_bytes: 64 << 10,
        write_batch,
        cached_values,
        read_values,
    }
}

fn key(k: u64) -> Vec<u8> {
    // Two-byte keys, some sharing prefixes, so that scans by prefix mean something.
    vec![(k / 8) as u8, (k % 8) as u8]
}

/// Compares a state with its model: point reads, contains, len, scans from both ends.
fn verify(store: &MemoryStore, model: &Model, rng: &mut Rng, keys: u64) -> Result<(), String> {
    for _ in 0..6 {
        let k = key(rng.below(keys + 2));
        let got = store.get(&k);
        if got.as_ref() != model.get(&k) {
            return Err(format!("get {k:?}: {got:?}, model {:?}", model.get(&k)));
        }
        if store.contains(&k) != model.contains_key(&k) {
            return Err(format!("contains {k:?}"));
        }
    }
    match rng.below(4) {
        0 => {
            let got: Vec<_> = store.scan_prefix(&[]).collect();
            let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            if got != want {
                return Err(format!("scan: {got:?}\nmodel {want:?}"));
            }
        }
        1 => {
            let got: Vec<_> = store.scan_prefix(&[]).rev().collect();
            let want: Vec<_> = model
                .iter()
                .rev()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if got != want {
                return Err(format!("scan back: {got:?}\nmodel {want:?}"));
            }
        }
        2 => {
            let prefix = vec![rng.below(keys / 8 + 1) as u8];
            let got: Vec<_> = store.scan_prefix(&prefix).collect();
            let want: Vec<_> = model
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if got != want {
                return Err(format!("scan {prefix:?}: {got:?}\nmodel {want:?}"));
            }
        }
        _ => {
            let len = store.len();
            if len != model.len() {
                return Err(format!("len {len}, model {}", model.len()));
            }
        }
    }
    Ok(())
}

type Shared = Arc<Mutex<Vec<(Arc<MemoryStore>, Arc<Model>)>>>;

static WHILE_WRITING: AtomicU64 = AtomicU64::new(0);
static CHECKS: AtomicU64 = AtomicU64::new(0);

fn one_case(seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let write_batch = 1 + rng.below(4) as usize;
    let cached_values = [0usize, 1, 3, 50][rng.below(4) as usize];
    let read_values = [0usize, 2, 3, 6, 1_000][rng.below(5) as usize];
    let span: u64 = std::env::var("EQUA_STORE_KEYS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let keys = 8 + rng.below(span);
    let lag = rng.below(4) as usize;
    let config = disk(write_batch, cached_values, read_values);
    let mut genesis = MemoryStore::on_disk(&config).map_err(|e| e.to_string())?;
    let mut model = Model::new();
    for _ in 0..keys / 2 {
        let k = rng.below(keys);
        genesis.put(&key(k), vec![0, k as u8]);
        model.insert(key(k), vec![0, k as u8]);
    }
    let genesis = genesis.settled_by_hand();
    let shared: Shared = Arc::new(Mutex::new(vec![(
        Arc::new(genesis.clone()),
        Arc::new(model.clone()),
    )]));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let checks = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (shared, stop, errors, checks) =
                (shared.clone(), stop.clone(), errors.clone(), checks.clone());
            std::thread::spawn(move || {
                let mut rng = Rng((seed ^ ((r + 1) * 0xABCD_EF01)) | 1);
                while !stop.load(AtomicOrdering::Relaxed) {
                    let picked = {
                        let shared = shared.lock().unwrap();
                        if shared.is_empty() {
                            continue;
                        }
                        let i = rng.below(shared.len() as u64) as usize;
                        let j = rng.below(shared.len() as u64) as usize;
                        (shared[i].clone(), shared[j].clone())
                    };
                    let ((store, model), (other, other_model)) = picked;
                    if store.base.read().writing {
                        WHILE_WRITING.fetch_add(1, AtomicOrdering::Relaxed);
                    }
                    let mut result = verify(&store, &model, &mut rng, keys);
                    if result.is_ok() && rng.below(4) == 0 {
                        // A child written above the state, never settled.
                        let mut child = (*store).clone();
                        let mut child_model = (*model).clone();
                        let k = key(rng.below(keys));
                        if rng.below(2) == 0 {
                            child.delete(&k);
                            child_model.remove(&k);
                        } else {
                            child.put(&k, vec![9, r as u8]);
                            child_model.insert(k, vec![9, r as u8]);
                        }
                        result = verify(&child, &child_model, &mut rng, keys);
                    }
                    if result.is_ok() && rng.below(4) == 0 {
                        let got: Vec<Vec<u8>> = store.changed_keys(&other).collect();
                        let all: BTreeSet<&Vec<u8>> =
                            model.keys().chain(other_model.keys()).collect();
                        let want: Vec<Vec<u8>> = all
                            .into_iter()
                            .filter(|k| model.get(*k) != other_model.get(*k))
                            .cloned()
                            .collect();
                        if got != want {
                            result = Err(format!("changed_keys {got:?}, model {want:?}"));
                        }
                    }
                    checks.fetch_add(1, AtomicOrdering::Relaxed);
                    CHECKS.fetch_add(1, AtomicOrdering::Relaxed);
                    if let Err(error) = result {
                        errors.lock().unwrap().push(format!("reader {r}: {error}"));
                        stop.store(true, AtomicOrdering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let mut pending: VecDeque<(MemoryStore, Model)> = VecDeque::new();
    pending.push_back((genesis, model));
    let steps = 150 + rng.below(150);
    let mut result = Ok(());
    for step in 0..steps {
        if stop.load(AtomicOrdering::Relaxed) {
            break;
        }
        let (tip, tip_model) = pending.back().expect("a tip");
        let mut next = tip.clone();
        let mut next_model = tip_model.clone();
        for _ in 0..1 + rng.below(6 + keys / 20) {
            let k = key(rng.below(keys));
            if rng.below(3) == 0 {
                next.delete(&k);
                next_model.remove(&k);
            } else {
                let mut value = vec![(step % 251) as u8; rng.below(3) as usize];
                value.push(rng.below(256) as u8);
                if rng.below(10) == 0 {
                    value.clear();
                }
                next.put(&k, value.clone());
                next_model.insert(k, value);
            }
        }
        if rng.below(2) == 0 {
            let mut shared = shared.lock().unwrap();
            shared.push((Arc::new(next.clone()), Arc::new(next_model.clone())));
        }
        pending.push_back((next, next_model));
        while pending.len() > lag + 1 {
            let (finalized, finalized_model) = pending.pop_front().expect("pending");
            if !finalized.settle() {
                result = Err(format!("step {step}: the line did not settle"));
            }
            if rng.below(3) == 0 {
                let mut shared = shared.lock().unwrap();
                shared.push((Arc::new(finalized), Arc::new(finalized_model)));
            }
        }
        // A fork of some pending state, never settled.
        if rng.below(8) == 0 {
            let i = rng.below(pending.len() as u64) as usize;
            let (state, state_model) = &pending[i];
            let mut fork = state.clone();
            let mut fork_model = state_model.clone();
            let k = key(rng.below(keys));
            fork.put(&k, vec![7, 7]);
            fork_model.insert(k, vec![7, 7]);
            shared
                .lock()
                .unwrap()
                .push((Arc::new(fork), Arc::new(fork_model)));
        }
        {
            let mut shared = shared.lock().unwrap();
            while shared.len() > 1 + rng.below(12) as usize {
                let i = rng.below(shared.len() as u64) as usize;
                shared.swap_remove(i);
            }
        }
        if result.is_ok() && rng.below(2) == 0 {
            let (tip, tip_model) = pending.back().expect("a tip");
            result = verify(tip, tip_model, &mut rng, keys).map_err(|e| format!("tip: {e}"));
        }
        if result.is_ok() && rng.below(60) == 0 {
            let (state, state_model) = &pending[rng.below(pending.len() as u64) as usize];
            let copy = state.detached();
            result = verify(&copy, state_model, &mut rng, keys)
                .and_then(|()| verify(&copy, state_model, &mut rng, keys))
                .map_err(|e| format!("detached: {e}"));
        }
        if result.is_err() {
            stop.store(true, AtomicOrdering::Relaxed);
            break;
        }
    }
    stop.store(true, AtomicOrdering::Relaxed);
    for reader in readers {
        if reader.join().is_err() {
            result = Err("a reader panicked".into());
        }
    }
    if let Some(error) = errors.lock().unwrap().first() {
        return Err(format!(
            "config ({write_batch}, {cached_values}, {read_values}), keys {keys}, lag {lag}: {error}"
        ));
    }
    // Everything kept still reads its model once the file is written.
    if result.is_ok() {
        pending.back().expect("a tip").0.wait_for_file();
        for (state, state_model) in pending.iter() {
            result = result.and_then(|()| verify(state, state_model, &mut rng, keys));
            if let Err(ref mut e) = result {
                *e = format!("after: {e}");
            }
        }
        for (state, state_model) in shared.lock().unwrap().iter() {
            result = result.and_then(|()| verify(state, state_model, &mut rng, keys));
        }
        let inner = pending[0].0.base.read();
        if inner.writing {
            result = Err("the writer is done but `writing` is set".into());
        }
    }
    result.map_err(|error| {
        format!(
            "config ({write_batch}, {cached_values}, {read_values}), keys {keys}, lag {lag}: {error}"
        )
    })
}

#[test]
fn random_lines_on_disk_read_as_their_models_from_other_threads_while_the_writer_runs() {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let cases = number("EQUA_STORE_CASES", 40);
    let first = number("EQUA_STORE_SEED", 1);
    for seed in first..first + cases {
        if let Err(error) = one_case(seed) {
            panic!("seed {seed}: {error}");
        }
    }
    let checks = CHECKS.load(AtomicOrdering::Relaxed);
    eprintln!(
        "{cases} cases, {checks} reader checks, {} of them begun while a batch was being written",
        WHILE_WRITING.load(AtomicOrdering::Relaxed)
    );
    assert!(checks > 0, "the readers read");
    let _ = std::fs::remove_dir_all(dir());
}
