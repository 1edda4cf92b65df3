//! Stored Responses API replies (`store: true`, the default for SDK users): the response object
//! as the client got it and the input items of its request, so that `previous_response_id`,
//! `GET`/`DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items` work across
//! restarts. Only the running server reads and writes them (`server::stored_responses`, which
//! batches writes off the request path); they never travel over the admin socket, so they are
//! methods on [`Store`] rather than [`super::ops::Op`]s.
//!
//! Two tables: id -> the record as JSON, and (created_at, id) -> () so that pruning by age and by
//! count walks from the oldest end without reading records. Every write prunes in the same
//! transaction; [`Store::responses_prune`] does it alone (at start and hourly).

use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Store, StoreError};
use crate::config::file::ResponsesSection;
use crate::store::records::UnixTime;

/// Response id -> JSON of [`StoredResponse`].
pub(crate) const RESPONSES: TableDefinition<&str, &[u8]> = TableDefinition::new("responses");
/// (created_at, response id) -> nothing: the age index pruning walks.
pub(crate) const RESPONSES_BY_AGE: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("responses_by_age");

/// The longest response id taken (ours are `resp_` + 32 hex digits); a longer one in a URL is
/// simply not found.
pub const MAX_ID_LEN: usize = 256;

const DAY_SECS: u64 = 24 * 60 * 60;

/// One stored reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredResponse {
    /// The gateway key that created it: only that key reads, chains or deletes it.
    pub owner: String,
    pub created_at: UnixTime,
    /// The reply this one continued, whose items come before [`Self::input`] in the
    /// conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// The request's `input` items, in order (a string input as one user message).
    pub input: Vec<Box<RawValue>>,
    /// The response object, exactly as the client got it.
    pub response: Box<RawValue>,
}

/// JSON compared as written (`RawValue` has no `==`).
impl PartialEq for StoredResponse {
    fn eq(&self, other: &Self) -> bool {
        self.owner == other.owner
            && self.created_at == other.created_at
            && self.previous_response_id == other.previous_response_id
            && self.response.get() == other.response.get()
            && self.input.len() == other.input.len()
            && self
                .input
                .iter()
                .zip(&other.input)
                .all(|(a, b)| a.get() == b.get())
    }
}

/// Only the `output` of a stored response object.
#[derive(Deserialize)]
struct OutputOnly {
    #[serde(default)]
    output: Vec<Box<RawValue>>,
}

impl StoredResponse {
    /// The response's `output` items (empty when the object has none or is not an object).
    pub fn output_items(&self) -> Vec<Box<RawValue>> {
        serde_json::from_str::<OutputOnly>(self.response.get())
            .map_or_else(|_| Vec::new(), |o| o.output)
    }
}

/// Whether `[responses]` keeps anything at all (either bound at 0 turns storing off).
pub fn enabled(limits: &ResponsesSection) -> bool {
    limits.max_stored > 0 && limits.max_age_days > 0
}

impl Store {
    /// Writes `batch` (id, record) in one transaction and prunes to `limits` at `now` in the
    /// same one. Returns how many records pruning removed.
    pub fn responses_put(
        &self,
        batch: &[(String, Arc<StoredResponse>)],
        limits: &ResponsesSection,
        now: UnixTime,
    ) -> Result<u64, StoreError> {
        let tx = self.inner.db.begin_write().map_err(StoreError::db)?;
        let removed = {
            let mut records = tx.open_table(RESPONSES).map_err(StoreError::db)?;
            let mut by_age = tx.open_table(RESPONSES_BY_AGE).map_err(StoreError::db)?;
            for (id, record) in batch {
                let json = serde_json::to_vec(record.as_ref())
                    .map_err(|e| StoreError::Db(format!("cannot encode a stored response: {e}")))?;
                // Ids are minted unique; a repeat replaces the record and its age entry.
                if let Some(old) = records
                    .insert(id.as_str(), json.as_slice())
                    .map_err(StoreError::db)?
                {
                    let old_at = decode(id, old.value()).map(|r| r.created_at);
                    drop(old);
                    if let Ok(at) = old_at {
                        by_age.remove((at, id.as_str())).map_err(StoreError::db)?;
                    }
                }
                by_age
                    .insert((record.created_at, id.as_str()), ())
                    .map_err(StoreError::db)?;
            }
            prune(&mut records, &mut by_age, limits, now)?
        };
        tx.commit().map_err(StoreError::db)?;
        Ok(removed)
    }

    /// The record stored under `id`, if any.
    pub fn responses_get(&self, id: &str) -> Result<Option<StoredResponse>, StoreError> {
        if id.len() > MAX_ID_LEN {
            return Ok(None);
        }
        let tx = self.inner.db.begin_read().map_err(StoreError::db)?;
        let t = tx.open_table(RESPONSES).map_err(StoreError::db)?;
        let found = t.get(id).map_err(StoreError::db)?;
        found.map(|v| decode(id, v.value())).transpose()
    }

    /// Deletes `id` when `owner` stored it; whether it did.
    pub fn responses_delete(&self, id: &str, owner: &str) -> Result<bool, StoreError> {
        if id.len() > MAX_ID_LEN {
            return Ok(false);
        }
        let tx = self.inner.db.begin_write().map_err(StoreError::db)?;
        let deleted = {
            let mut records = tx.open_table(RESPONSES).map_err(StoreError::db)?;
            let at = match records.get(id).map_err(StoreError::db)? {
                Some(v) => {
                    let record = decode(id, v.value())?;
                    (record.owner == owner).then_some(record.created_at)
                }
                None => None,
            };
            if let Some(at) = at {
                records.remove(id).map_err(StoreError::db)?;
                let mut by_age = tx.open_table(RESPONSES_BY_AGE).map_err(StoreError::db)?;
                by_age.remove((at, id)).map_err(StoreError::db)?;
            }
            at.is_some()
        };
        tx.commit().map_err(StoreError::db)?;
        Ok(deleted)
    }

    /// Removes what is past `limits` at `now`; how many records it removed.
    pub fn responses_prune(
        &self,
        limits: &ResponsesSection,
        now: UnixTime,
    ) -> Result<u64, StoreError> {
        self.responses_put(&[], limits, now)
    }

    /// How many responses are stored.
    pub fn responses_count(&self) -> Result<u64, StoreError> {
        let tx = self.inner.db.begin_read().map_err(StoreError::db)?;
        let t = tx.open_table(RESPONSES).map_err(StoreError::db)?;
        t.len().map_err(StoreError::db)
    }
}

/// Deletes, oldest first, every record older than `max_age_days` and as many more as it takes to
/// keep at most `max_stored`.
fn prune(
    records: &mut redb::Table<&str, &[u8]>,
    by_age: &mut redb::Table<(u64, &str), ()>,
    limits: &ResponsesSection,
    now: UnixTime,
) -> Result<u64, StoreError> {
    let cutoff = now.saturating_sub(limits.max_age_days.saturating_mul(DAY_SECS));
    let mut excess = records
        .len()
        .map_err(StoreError::db)?
        .saturating_sub(limits.max_stored);
    let mut doomed: Vec<(u64, String)> = Vec::new();
    for row in by_age.iter().map_err(StoreError::db)? {
        let (key, _) = row.map_err(StoreError::db)?;
        let (at, id) = key.value();
        if at >= cutoff && excess == 0 {
            break;
        }
        excess = excess.saturating_sub(1);
        doomed.push((at, id.to_owned()));
    }
    for (at, id) in &doomed {
        by_age.remove((*at, id.as_str())).map_err(StoreError::db)?;
        records.remove(id.as_str()).map_err(StoreError::db)?;
    }
    Ok(doomed.len() as u64)
}

fn decode(id: &str, json: &[u8]) -> Result<StoredResponse, StoreError> {
    serde_json::from_slice(json).map_err(|e| StoreError::Corrupt {
        what: format!("stored response {id}"),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::SecretsBackend;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    pub(crate) fn record(owner: &str, at: u64, prev: Option<&str>, n: u32) -> Arc<StoredResponse> {
        Arc::new(StoredResponse {
            owner: owner.into(),
            created_at: at,
            previous_response_id: prev.map(str::to_owned),
            input: vec![raw(&format!(
                r#"{{"type":"message","role":"user","content":"q{n}"}}"#
            ))],
            response: raw(&format!(
                r#"{{"id":"resp_{n}","object":"response","output":[{{"type":"message","id":"msg_{n}","role":"assistant","content":[{{"type":"output_text","text":"a{n}"}}]}}]}}"#
            )),
        })
    }

    fn limits(days: u64, max: u64) -> ResponsesSection {
        ResponsesSection {
            max_age_days: days,
            max_stored: max,
        }
    }

    fn open(path: &std::path::Path) -> Store {
        Store::open_at(path, SecretsBackend::File).unwrap()
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn saved_reads_back_after_reopen_and_deletes_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        let s = open(&path);
        let r = record("ci", NOW, None, 1);
        s.responses_put(&[("resp_1".into(), Arc::clone(&r))], &limits(30, 10), NOW)
            .unwrap();
        drop(s);

        let s = open(&path);
        let got = s.responses_get("resp_1").unwrap().unwrap();
        assert_eq!(got, *r);
        assert_eq!(got.output_items().len(), 1);
        assert!(got.output_items()[0].get().contains("a1"));
        assert_eq!(s.responses_get("resp_2").unwrap(), None);
        assert_eq!(s.responses_get(&"x".repeat(MAX_ID_LEN + 1)).unwrap(), None);

        assert!(!s.responses_delete("resp_1", "someone-else").unwrap());
        assert!(s.responses_get("resp_1").unwrap().is_some());
        assert!(s.responses_delete("resp_1", "ci").unwrap());
        assert!(!s.responses_delete("resp_1", "ci").unwrap());
        assert_eq!(s.responses_get("resp_1").unwrap(), None);
        assert_eq!(s.responses_count().unwrap(), 0);
        // The age index went with it: nothing left for pruning to find.
        assert_eq!(
            s.responses_prune(&limits(1, 0), NOW + 10 * DAY_SECS)
                .unwrap(),
            0
        );
    }

    #[test]
    fn pruning_drops_the_old_and_the_surplus_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir.path().join("g.redb"));
        let l = limits(30, 3);
        let batch: Vec<(String, Arc<StoredResponse>)> = (0..5u32)
            .map(|n| {
                let at = NOW - u64::from(5 - n) * DAY_SECS;
                (format!("resp_{n}"), record("ci", at, None, n))
            })
            .collect();
        // Five written, three kept: the two oldest go in the same transaction.
        assert_eq!(s.responses_put(&batch, &l, NOW).unwrap(), 2);
        let kept: Vec<bool> = (0..5)
            .map(|n| s.responses_get(&format!("resp_{n}")).unwrap().is_some())
            .collect();
        assert_eq!(kept, [false, false, true, true, true]);

        // 27.5 days later resp_2 (written 3 days before NOW) is past 30 days; the others not.
        let later = NOW + 27 * DAY_SECS + DAY_SECS / 2;
        assert_eq!(s.responses_prune(&l, later).unwrap(), 1);
        assert_eq!(s.responses_count().unwrap(), 2);
        assert!(s.responses_get("resp_3").unwrap().is_some());
        // A repeated id replaces its record and age entry rather than adding a row.
        s.responses_put(&[("resp_3".into(), record("ci", NOW, None, 9))], &l, NOW)
            .unwrap();
        assert_eq!(s.responses_count().unwrap(), 2);
        let r = s.responses_get("resp_3").unwrap().unwrap();
        assert!(r.response.get().contains("resp_9"));
        assert_eq!(s.responses_prune(&l, NOW + 31 * DAY_SECS).unwrap(), 2);
        assert_eq!(s.responses_count().unwrap(), 0);
    }

    #[test]
    fn enabled_needs_both_bounds() {
        assert!(enabled(&ResponsesSection::default()));
        assert!(!enabled(&limits(0, 10)));
        assert!(!enabled(&limits(30, 0)));
    }
}
