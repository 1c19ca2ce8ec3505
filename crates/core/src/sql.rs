//! The domain's ids and money as SQL values (feature `sqlx`): ids are stored as their text
//! (`job_…`), money as integer micro-dollars, so rows carry the types and no store function
//! parses or formats them by hand. A stored id that does not parse is a decode error (a corrupt
//! row), never a silent default.

use crate::ids::{AttemptId, EndpointRecordId, JobId, ServerlessJobId, VolumeRecordId, WorkId};
use crate::money::Money;
use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

macro_rules! text_id {
    ($($id:ty),*) => {$(
        impl Type<Any> for $id {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }
        }
        impl<'q> Encode<'q, Any> for $id {
            fn encode_by_ref(&self, buf: &mut <Any as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <String as Encode<'q, Any>>::encode(self.to_string(), buf)
            }
        }
        impl<'r> Decode<'r, Any> for $id {
            fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<'r, Any>>::decode(value)?.parse()?)
            }
        }
    )*};
}

text_id!(JobId, AttemptId, ServerlessJobId, EndpointRecordId, VolumeRecordId, WorkId);

impl Type<Any> for Money {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }
    /// Any integer column, as `i64` takes (an `INTEGER` on Postgres as well as a `BIGINT`).
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Any> for Money {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, Any>>::encode(self.0, buf)
    }
}

impl<'r> Decode<'r, Any> for Money {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Money(<i64 as Decode<'r, Any>>::decode(value)?))
    }
}
