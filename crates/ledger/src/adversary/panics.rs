//! Catching panics as counterexamples.
//!
//! A panic in the ledger is a finding whether it unwinds out of `apply_block` or is contained by
//! a guard inside the ledger that turns it into a failed transaction: either way some call reached
//! code that was meant to be unreachable. A process-wide panic hook records every panic raised on
//! a thread that is running the adversary, with its message and location, and stays silent
//! there; panics on other threads (other tests in the same binary) go to the previous hook.

use std::{
    cell::{Cell, RefCell},
    panic::{self, AssertUnwindSafe},
    sync::Once,
};

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(Cell::get) {
                let location = info
                    .location()
                    .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".to_string());
                CAUGHT.with(|caught| caught.borrow_mut().push(format!("{message}{location}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, returning its value, or the message of the first panic raised while it ran
/// (whether or not something inside `f` caught it).
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let was_capturing = CAPTURING.with(|c| c.replace(true));
    let before = CAUGHT.with(|caught| caught.borrow().len());
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CAPTURING.with(|c| c.set(was_capturing));
    let first = CAUGHT.with(|caught| {
        let mut caught = caught.borrow_mut();
        let first = caught.get(before).cloned();
        caught.truncate(before);
        first
    });
    match (result, first) {
        (Ok(value), None) => Ok(value),
        (_, Some(message)) => Err(message),
        (Err(_), None) => Err("(a panic the hook did not see)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::guarded;

    #[test]
    fn reports_panics_caught_inside_and_outside() {
        assert_eq!(guarded(|| 7), Ok(7));
        let outside = guarded(|| -> u8 { panic!("boom") }).unwrap_err();
        assert!(outside.starts_with("boom at "), "{outside}");
        let inside = guarded(|| std::panic::catch_unwind(|| panic!("hidden")).is_err());
        assert!(inside.unwrap_err().starts_with("hidden"));
    }
}
