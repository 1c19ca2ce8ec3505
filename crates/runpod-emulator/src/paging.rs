//! Cursor pagination of every REST v2 list, as RunPod's docs describe it (late 2026; the pinned
//! spec predates it): `limit` 1–1000 (default 1000, or the config's `page_size`), `cursor`, and
//! `pagination.nextCursor` in the answer. A malformed cursor, or one of another list or account,
//! is a 422.
//!
//! Cursors are keyset cursors: they carry the sort key of the last item shown, so a page after
//! items were created or deleted neither repeats nor skips one that is still there.

use crate::problem::ApiError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use runpod::types::pagination::{MAX_PAGE, Pagination};
use std::collections::HashMap;

/// What a list request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    limit: usize,
    after: Option<String>,
    /// `<account>\n<list>`: a cursor is good only for the list and account it came from.
    scope: String,
}

impl PageRequest {
    /// Reads `limit` and `cursor` of list `list` for account `acct`.
    pub fn from_query(
        q: &HashMap<String, String>,
        acct: &str,
        list: &str,
        default_limit: u32,
    ) -> Result<Self, ApiError> {
        let limit = crate::routes::query_int(q, "limit", 1, i64::from(MAX_PAGE))?
            .map_or(default_limit.clamp(1, MAX_PAGE) as usize, |n| n as usize);
        let scope = format!("{acct}\n{list}");
        let after = match q.get("cursor") {
            None => None,
            Some(c) => Some(
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.strip_prefix(&format!("{scope}\n")).map(str::to_owned))
                    .ok_or_else(|| {
                        ApiError::validation(vec![format!(
                            "query parameter 'cursor': {c:?} is not a cursor of this list"
                        )])
                    })?,
            ),
        };
        Ok(Self { limit, after, scope })
    }

    /// The page of `sorted` (items with their sort keys, in key order) after the cursor, and the
    /// next page's cursor when more follow.
    pub fn page<T>(&self, mut sorted: Vec<(String, T)>) -> (Vec<T>, Option<Pagination>) {
        // In the cursor's own order: a list sorted by finer times could otherwise put an item
        // behind the cursor's key and skip it.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rest = sorted
            .into_iter()
            .filter(|(k, _)| self.after.as_ref().is_none_or(|a| k.as_str() > a.as_str()));
        let items: Vec<(String, T)> = rest.by_ref().take(self.limit).collect();
        let more = rest.next().is_some();
        let next = more.then(|| items.last().map(|(k, _)| self.cursor(k))).flatten();
        let pagination =
            Some(Pagination { has_next_page: Some(next.is_some()), next_cursor: next });
        (items.into_iter().map(|(_, t)| t).collect(), pagination)
    }

    fn cursor(&self, key: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\n{key}", self.scope))
    }
}

/// A sort key that orders by creation time, then id (the lists' own order).
pub fn created_key(created_ms: i64, id: &str) -> String {
    format!("{:020}.{id}", created_ms.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(q: &[(&str, &str)]) -> Result<PageRequest, ApiError> {
        let q = q.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        PageRequest::from_query(&q, "acct", "pods", 1000)
    }

    #[test]
    fn pages_follow_the_cursor_without_repeats_or_gaps_and_refuse_foreign_cursors() {
        let items = |n: usize| (0..n).map(|i| (format!("{i:03}"), i)).collect::<Vec<_>>();
        let (first, p) = req(&[("limit", "2")]).expect("req").page(items(5));
        assert_eq!(first, [0, 1]);
        let c = p.and_then(|p| p.next_cursor).expect("more");
        // Item 2 is deleted between pages: the next page starts after 1 all the same.
        let mut left = items(5);
        left.remove(2);
        let (second, p) = req(&[("limit", "2"), ("cursor", &c)]).expect("req").page(left);
        assert_eq!(second, [3, 4]);
        assert_eq!(p, Some(Pagination { next_cursor: None, has_next_page: Some(false) }));
        for bad in ["x", "%%%", &URL_SAFE_NO_PAD.encode("other\npods\n001")] {
            assert!(req(&[("cursor", bad)]).is_err(), "{bad}");
        }
        assert!(req(&[("limit", "0")]).is_err() && req(&[("limit", "1001")]).is_err());
    }
}
