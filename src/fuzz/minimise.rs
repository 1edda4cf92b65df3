//! Shrinks a failing input to one that fails the same way, so a crash reads as its cause and
//! can become a unit test: a JSON body loses every member and element it can spare, an SSE
//! transcript every event (and then its events' JSON the same way); anything else, or what is
//! left, loses byte ranges.

use serde_json::Value;

use super::mutate::{Shape, parse_sse};
use crate::protocol::sse::write_event;

/// Attempts per input.
const TRIES: usize = 4000;

/// The smallest input found for which `fails` still holds.
pub fn minimise(shape: Shape, input: &[u8], fails: &dyn Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut tries = 0;
    let structured = match shape {
        Shape::Json => json(input, fails, &mut tries),
        Shape::Sse => sse(input, fails, &mut tries),
    };
    match structured {
        Some(s) => s,
        None => bytes(input, fails, &mut tries),
    }
}

fn json(input: &[u8], fails: &dyn Fn(&[u8]) -> bool, tries: &mut usize) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(input).ok()?;
    let out = shrink_value(v, &|v| fails(&to_bytes(v)), tries)?;
    Some(to_bytes(&out))
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// `v` with every node removed that `fails` can spare; `None` when `v` itself (re-serialised)
/// does not fail.
fn shrink_value(mut v: Value, fails: &dyn Fn(&Value) -> bool, tries: &mut usize) -> Option<Value> {
    *tries += 1;
    if !fails(&v) {
        return None;
    }
    loop {
        let mut progressed = false;
        let mut k = 1;
        while k < count(&v) && *tries < TRIES {
            let mut candidate = v.clone();
            *tries += 1;
            if remove_nth(&mut candidate, k) && fails(&candidate) {
                v = candidate;
                progressed = true;
            } else {
                k += 1;
            }
        }
        if !progressed || *tries >= TRIES {
            return Some(v);
        }
    }
}

fn sse(input: &[u8], fails: &dyn Fn(&[u8]) -> bool, tries: &mut usize) -> Option<Vec<u8>> {
    let frame = |events: &[crate::protocol::sse::SseEvent]| {
        let mut out = Vec::new();
        for e in events {
            write_event(&mut out, e.event.as_deref(), &e.data);
        }
        out
    };
    let mut events = parse_sse(input);
    *tries += 1;
    if events.is_empty() || !fails(&frame(&events)) {
        return None;
    }
    let mut i = 0;
    while i < events.len() && *tries < TRIES {
        let mut candidate = events.clone();
        candidate.remove(i);
        *tries += 1;
        if fails(&frame(&candidate)) {
            events = candidate;
        } else {
            i += 1;
        }
    }
    for i in 0..events.len() {
        let Ok(v) = serde_json::from_str::<Value>(&events[i].data) else {
            continue;
        };
        let with = |v: &Value| {
            let mut candidate = events.clone();
            candidate[i].data = v.to_string();
            fails(&frame(&candidate))
        };
        if let Some(small) = shrink_value(v, &with, tries) {
            events[i].data = small.to_string();
        }
    }
    Some(frame(&events))
}

fn bytes(input: &[u8], fails: &dyn Fn(&[u8]) -> bool, tries: &mut usize) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut chunk = best.len().div_ceil(2).max(1);
    while *tries < TRIES {
        let mut progressed = false;
        let mut i = 0;
        while i < best.len() && *tries < TRIES {
            let mut candidate = best.clone();
            candidate.drain(i..(i + chunk).min(best.len()));
            *tries += 1;
            if fails(&candidate) {
                best = candidate;
                progressed = true;
            } else {
                i += chunk;
            }
        }
        if !progressed {
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }
    best
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Object(m) => m.values().map(count).sum(),
        Value::Array(a) => a.iter().map(count).sum(),
        _ => 0,
    }
}

/// Removes the `k`th node (pre-order, the root being 0) from its parent.
fn remove_nth(v: &mut Value, k: usize) -> bool {
    fn go(v: &mut Value, k: &mut usize) -> bool {
        match v {
            Value::Object(m) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                for key in keys {
                    if *k == 0 {
                        m.remove(&key);
                        return true;
                    }
                    *k -= 1;
                    let Some(child) = m.get_mut(&key) else {
                        continue;
                    };
                    let n = count(child) - 1;
                    if *k < n {
                        return go(child, k);
                    }
                    *k -= n;
                }
                false
            }
            Value::Array(a) => {
                for i in 0..a.len() {
                    if *k == 0 {
                        a.remove(i);
                        return true;
                    }
                    *k -= 1;
                    let n = count(&a[i]) - 1;
                    if *k < n {
                        return go(&mut a[i], k);
                    }
                    *k -= n;
                }
                false
            }
            _ => false,
        }
    }
    let mut k = k.saturating_sub(1);
    go(v, &mut k)
}
