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
}
