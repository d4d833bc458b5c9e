//! The public types of parsed filters and `order_by` clauses.

use std::fmt;

/// What an identifier refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

impl Entity {
    /// The canonical (singular) name MLflow uses for the entity type.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Metric => "metric",
            Entity::Param => "parameter",
            Entity::Tag => "tag",
            Entity::Attribute => "attribute",
            Entity::Dataset => "dataset",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved identifier. `key` is unquoted; attribute keys are canonical
/// (`created` → `start_time`, `Run Name` → `run_name`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub entity: Entity,
    pub key: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Cmp {
    /// The operator as MLflow spells it (`"="`, `"NOT IN"`, `"IS NULL"` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Like => "LIKE",
            Cmp::ILike => "ILIKE",
            Cmp::In => "IN",
            Cmp::NotIn => "NOT IN",
            Cmp::IsNull => "IS NULL",
            Cmp::IsNotNull => "IS NOT NULL",
        }
    }

    /// Parses an upper-cased operator with single spaces (`"NOT IN"`).
    pub(super) fn from_op(op: &str) -> Option<Cmp> {
        Some(match op {
            "=" => Cmp::Eq,
            "!=" => Cmp::Ne,
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            ">" => Cmp::Gt,
            ">=" => Cmp::Ge,
            "LIKE" => Cmp::Like,
            "ILIKE" => Cmp::ILike,
            "IN" => Cmp::In,
            "NOT IN" => Cmp::NotIn,
            "IS NULL" => Cmp::IsNull,
            "IS NOT NULL" => Cmp::IsNotNull,
            _ => return None,
        })
    }
}

impl fmt::Display for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (quotes removed, not unescaped).
    Str(String),
    /// A number (metrics and numeric attributes).
    Num(f64),
    /// The items of an `IN (...)` / `NOT IN (...)` list.
    List(Vec<String>),
    /// No value: `IS NULL` / `IS NOT NULL`.
    None,
}

/// One comparison of a filter; a filter is the conjunction of its clauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub ident: Ident,
    pub cmp: Cmp,
    pub value: Value,
}

/// One `order_by` element.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub ident: Ident,
    pub ascending: bool,
}

/// Which search endpoint's rules to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    Runs,
    Experiments,
    RegisteredModels,
    ModelVersions,
    LoggedModels,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparator_names_round_trip() {
        use Cmp::*;
        for cmp in [
            Eq, Ne, Lt, Le, Gt, Ge, Like, ILike, In, NotIn, IsNull, IsNotNull,
        ] {
            assert_eq!(Cmp::from_op(cmp.as_str()), Some(cmp));
            assert_eq!(cmp.to_string(), cmp.as_str());
        }
        assert_eq!(Entity::Param.to_string(), "parameter");
    }
}
