//! Enums stored as TEXT: decoded at the driver's edge on both backends, so rows hold the enum and
//! a value the enum does not know is a decode error (never a string parsed later by hand).

/// Implement `sqlx::Type` and `sqlx::Decode` (both backends) for an enum with
/// `fn as_str(self) -> &'static str` and `fn parse(&str) -> Option<Self>`, stored as TEXT.
#[macro_export]
macro_rules! text_column {
    ($t:ty) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $t
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $t
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let raw = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                <$t>::parse(raw).ok_or_else(|| {
                    format!("unknown {} {raw:?} in the database", stringify!($t)).into()
                })
            }
        }

        impl $crate::store::column::Spelling for $t {
            fn spelling(self) -> &'static str {
                <$t>::as_str(self)
            }
            fn from_spelling(s: &str) -> Option<Self> {
                <$t>::parse(s)
            }
        }
    };
}

/// Declare an enum stored as TEXT: the enum, `as_str`, `parse` and its column type in one place,
/// each variant with the one spelling the database and the API use.
///
/// ```ignore
/// crate::text_enum! {
///     /// Who may read a history entry.
///     pub enum Visibility { Public = "public", Internal = "internal" }
/// }
/// ```
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$( $name::$variant ),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        $crate::text_column!($name);
    };
}

/// A text enum's one spelling, both ways (every [`text_column!`] type has it).
pub trait Spelling: Copy + Send + Sync + 'static {
    fn spelling(self) -> &'static str;
    fn from_spelling(s: &str) -> Option<Self>;
}

/// A text enum in an API view, written as its plain spelling. The spec says `string`, as it did
/// when such a field was a `String`, but the field can only ever hold one of the enum's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spelled<T>(pub T);

impl<T: Spelling> poem_openapi::types::Type for Spelled<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        poem_openapi::registry::MetaSchemaRef::Inline(Box::new(
            poem_openapi::registry::MetaSchema::new("string"),
        ))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<T: Spelling> poem_openapi::types::ToJSON for Spelled<T> {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.0.spelling().into()))
    }
}

impl<T: Spelling> poem_openapi::types::ParseFromJSON for Spelled<T> {
    fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
        match value {
            Some(serde_json::Value::String(s)) => {
                T::from_spelling(&s).map(Spelled).ok_or_else(|| {
                    poem_openapi::types::ParseError::custom(format!("unknown value {s:?}"))
                })
            }
            other => Err(poem_openapi::types::ParseError::expected_type(
                other.unwrap_or_default(),
            )),
        }
    }
}

/// The values of an SQL list literal such as `('a', 'b')`, for tests that hold a list spelled in
/// SQL to its enum.
#[cfg(test)]
pub fn sql_list(text: &str) -> Vec<&str> {
    text.trim_matches(|c| c == '(' || c == ')')
        .split(", ")
        .map(|s| s.trim_matches('\''))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::reports::Status;

    /// A known value decodes into the enum; one the enum does not know is an error, not a default.
    #[tokio::test]
    async fn a_text_column_decodes_known_values_and_refuses_others() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let (s,): (Status,) = sqlx::query_as("SELECT 'in_progress'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(s, Status::InProgress);
        let bad = sqlx::query_as::<_, (Status,)>("SELECT 'bogus'")
            .fetch_one(&pool)
            .await;
        assert!(
            matches!(bad, Err(sqlx::Error::ColumnDecode { .. })),
            "{bad:?}"
        );
    }

    /// A view field holding the enum is written as its spelling and documented as a string.
    #[test]
    fn a_spelled_enum_is_a_plain_string_in_json_and_spec() {
        use super::Spelled;
        use poem_openapi::types::{ParseFromJSON, ToJSON, Type};
        assert_eq!(
            Spelled(Status::InProgress).to_json(),
            Some(serde_json::json!("in_progress"))
        );
        assert_eq!(
            Spelled::<Status>::parse_from_json(Some(serde_json::json!("resolved"))).ok(),
            Some(Spelled(Status::Resolved))
        );
        assert!(Spelled::<Status>::parse_from_json(Some(serde_json::json!("bogus"))).is_err());
        assert_eq!(
            format!("{:?}", Spelled::<Status>::schema_ref()),
            format!("{:?}", String::schema_ref())
        );
    }
}
