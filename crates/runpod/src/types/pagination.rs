//! Cursor pagination of REST v2 lists (RunPod's docs for v2 list routes, late 2026; the pinned
//! spec predates it): `?limit=1..1000&cursor=…`, and the answer's `pagination.nextCursor`. A
//! malformed or foreign cursor is a 422. Clients follow a cursor when one is present and do not
//! require it (an answer without `pagination` is the whole list).

use serde::{Deserialize, Serialize};

/// The most items one page may hold (and RunPod's default page size).
pub const MAX_PAGE: u32 = 1000;

/// `pagination` of a list answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// The cursor of the next page; absent or `null` on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Whether another page follows (`runpod` 2.0.0rc2 reads it beside `nextCursor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_next_page: Option<bool>,
}

impl Pagination {
    /// The cursor to ask for next, if any.
    pub fn next(&self) -> Option<&str> {
        if self.has_next_page == Some(false) {
            return None;
        }
        self.next_cursor.as_deref().filter(|c| !c.is_empty())
    }
}
