//! Tests of the grammar through its entry points (they cut across the passes).

use super::*;
use crate::error::ErrorCode;

use Entity::{Attribute as A, Dataset as D, Metric as M, Param as P, Tag as T};
use SearchKind::{
    Experiments as Exp, LoggedModels as Lm, ModelVersions as Mv, RegisteredModels as Rm, Runs,
};

fn c(entity: Entity, key: &str, cmp: Cmp, value: Value) -> Clause {
    Clause {
        ident: Ident {
            entity,
            key: key.to_string(),
        },
        cmp,
        value,
    }
}
fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}
fn n(v: f64) -> Value {
    Value::Num(v)
}
fn l(items: &[&str]) -> Value {
    Value::List(items.iter().map(|i| i.to_string()).collect())
}
fn o(entity: Entity, key: &str, ascending: bool) -> OrderBy {
    OrderBy {
        ident: Ident {
            entity,
            key: key.to_string(),
        },
        ascending,
    }
}
fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| i.to_string()).collect()
}

/// Filters MLflow 3.17.2 accepts, with the AST it produces (cross-checked against
/// `SearchUtils.parse_search_filter` and the stores' comparator checks).
#[test]
fn accepted_filters() {
    use Cmp::*;
    let cases: Vec<(SearchKind, &str, Vec<Clause>)> = vec![
        (Runs, "", vec![]),
        (Runs, "   \t\n ", vec![]),
        (Runs, "metrics.a > 1", vec![c(M, "a", Gt, n(1.0))]),
        (
            Runs,
            "metrics.a > 1 AND params.b = 'x'",
            vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
        ),
        (
            Runs,
            "metrics.a > 1 and params.b = 'x'",
            vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
        ),
        (
            Runs,
            "params.a='x'and params.b='y'",
            vec![c(P, "a", Eq, s("x")), c(P, "b", Eq, s("y"))],
        ),
        (
            Runs,
            "  metrics.a   >   1\tAND\tparams.b='x'  ",
            vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
        ),
        (
            Runs,
            "params.a = 'x'\nAND params.b = 'y'",
            vec![c(P, "a", Eq, s("x")), c(P, "b", Eq, s("y"))],
        ),
        (
            Runs,
            "metrics.a >= 1 AND metrics.b <= 2 AND metrics.c != 3 AND metrics.d < 4",
            vec![
                c(M, "a", Ge, n(1.0)),
                c(M, "b", Le, n(2.0)),
                c(M, "c", Ne, n(3.0)),
                c(M, "d", Lt, n(4.0)),
            ],
        ),
        // Dotted and quoted keys.
        (
            Runs,
            "tags.mlflow.runName = 'x'",
            vec![c(T, "mlflow.runName", Eq, s("x"))],
        ),
        (
            Runs,
            "tags.`mlflow.runName` = 'x'",
            vec![c(T, "mlflow.runName", Eq, s("x"))],
        ),
        (
            Runs,
            "tags.\"mlflow.runName\" = 'x'",
            vec![c(T, "mlflow.runName", Eq, s("x"))],
        ),
        (Runs, "`tags`.`a b` = 'x'", vec![c(T, "a b", Eq, s("x"))]),
        (Runs, "tags.'a b' = 'x'", vec![c(T, "a b", Eq, s("x"))]),
        (Runs, "metrics.`a b` > 1", vec![c(M, "a b", Gt, n(1.0))]),
        (Runs, "metrics.\"a b\" > 1", vec![c(M, "a b", Gt, n(1.0))]),
        (Runs, "metrics.`a``b` > 1", vec![c(M, "a``b", Gt, n(1.0))]),
        (Runs, "metrics.`` > 1", vec![c(M, "", Gt, n(1.0))]),
        (Runs, "metrics.a.b > 1", vec![c(M, "a.b", Gt, n(1.0))]),
        (Runs, "metrics.1a > 1", vec![c(M, "1a", Gt, n(1.0))]),
        (
            Runs,
            "tags.a.`b c` = 'x'",
            vec![c(T, "a.`b c`", Eq, s("x"))],
        ),
        (Runs, "tags.`a`.`b` = 'x'", vec![c(T, "a`.`b", Eq, s("x"))]),
        (Runs, "params.é = 'x'", vec![c(P, "é", Eq, s("x"))]),
        (Runs, "params.日本 = '値'", vec![c(P, "日本", Eq, s("値"))]),
        (
            Runs,
            "params.select = 'x'",
            vec![c(P, "select", Eq, s("x"))],
        ),
        (
            Runs,
            "metrics.`ünïcödé` > 1",
            vec![c(M, "ünïcödé", Gt, n(1.0))],
        ),
        // Entity aliases.
        (Runs, "metric.a > 1", vec![c(M, "a", Gt, n(1.0))]),
        (Runs, "`metrics`.a > 1", vec![c(M, "a", Gt, n(1.0))]),
        (Runs, "parameters.a = 'x'", vec![c(P, "a", Eq, s("x"))]),
        (Runs, "parameter.a = 'x'", vec![c(P, "a", Eq, s("x"))]),
        (Runs, "param.a = 'x'", vec![c(P, "a", Eq, s("x"))]),
        (Runs, "tag.a = 'x'", vec![c(T, "a", Eq, s("x"))]),
        (Runs, "run.status = 'x'", vec![c(A, "status", Eq, s("x"))]),
        (
            Runs,
            "attribute.status = 'x'",
            vec![c(A, "status", Eq, s("x"))],
        ),
        (
            Runs,
            "attributes.status != 'FAILED'",
            vec![c(A, "status", Ne, s("FAILED"))],
        ),
        (
            Runs,
            "attr.created > 5",
            vec![c(A, "start_time", Gt, n(5.0))],
        ),
        (
            Runs,
            "`attributes`.`status` = 'x'",
            vec![c(A, "status", Eq, s("x"))],
        ),
        (
            Runs,
            "attributes.\"status\" = 'x'",
            vec![c(A, "status", Eq, s("x"))],
        ),
        // Strings: both quote kinds, escapes kept verbatim as MLflow does.
        (Runs, "params.a = \"x\"", vec![c(P, "a", Eq, s("x"))]),
        (Runs, "params.a = ''", vec![c(P, "a", Eq, s(""))]),
        (Runs, "params.a = 'it''s'", vec![c(P, "a", Eq, s("it''s"))]),
        (
            Runs,
            "params.a = 'it\\'s'",
            vec![c(P, "a", Eq, s("it\\'s"))],
        ),
        (
            Runs,
            "params.a = \"it\"\"s\"",
            vec![c(P, "a", Eq, s("it\"\"s"))],
        ),
        (Runs, "params.a = \"x'y\"", vec![c(P, "a", Eq, s("x'y"))]),
        (Runs, "params.a = 'x\"y'", vec![c(P, "a", Eq, s("x\"y"))]),
        (Runs, "params.a = 'x\\'", vec![c(P, "a", Eq, s("x\\"))]),
        (Runs, "params.a = 'x\\\\'", vec![c(P, "a", Eq, s("x\\\\"))]),
        (
            Runs,
            "params.a = 'x\\'y\\'",
            vec![c(P, "a", Eq, s("x\\'y\\"))],
        ),
        (Runs, "params.a = '日本'", vec![c(P, "a", Eq, s("日本"))]),
        // Numbers.
        (Runs, "metrics.a = -1", vec![c(M, "a", Eq, n(-1.0))]),
        (Runs, "metrics.a = 1e5", vec![c(M, "a", Eq, n(1e5))]),
        (Runs, "metrics.a = 1E5", vec![c(M, "a", Eq, n(1e5))]),
        (Runs, "metrics.a = 1.5e-3", vec![c(M, "a", Eq, n(1.5e-3))]),
        (Runs, "metrics.a = .5", vec![c(M, "a", Eq, n(0.5))]),
        (Runs, "metrics.a = 5.", vec![c(M, "a", Eq, n(5.0))]),
        (Runs, "metrics.a > -.5", vec![c(M, "a", Gt, n(-0.5))]),
        (Runs, "metrics.a > 00012", vec![c(M, "a", Gt, n(12.0))]),
        (Runs, "metrics.a>-1", vec![c(M, "a", Gt, n(-1.0))]),
        (Runs, "metrics.a<-1", vec![c(M, "a", Lt, n(-1.0))]),
        (Runs, "metrics.a=-1", vec![c(M, "a", Eq, n(-1.0))]),
        (
            Runs,
            "metrics.a > 99999999999999999999999",
            vec![c(M, "a", Gt, n(1e23))],
        ),
        (
            Runs,
            "metrics.a > 1e400",
            vec![c(M, "a", Gt, n(f64::INFINITY))],
        ),
        // Extensions: signs and signed exponents MLflow's tokenizer splits apart.
        (Runs, "metrics.a = +5", vec![c(M, "a", Eq, n(5.0))]),
        (Runs, "metrics.a > -1.5E+3", vec![c(M, "a", Gt, n(-1500.0))]),
        (Runs, "metrics.a > 1.e5", vec![c(M, "a", Gt, n(1e5))]),
        (Runs, "metrics.a > .5e5", vec![c(M, "a", Gt, n(5e4))]),
        // Keyword operators, case-insensitive.
        (Runs, "params.a LIKE 'x%'", vec![c(P, "a", Like, s("x%"))]),
        (Runs, "params.a like 'x'", vec![c(P, "a", Like, s("x"))]),
        (Runs, "params.a ILIKE 'x'", vec![c(P, "a", ILike, s("x"))]),
        (Runs, "params.a ilike 'x'", vec![c(P, "a", ILike, s("x"))]),
        (
            Runs,
            "params.a IS NULL",
            vec![c(P, "a", IsNull, Value::None)],
        ),
        (
            Runs,
            "params.a is null",
            vec![c(P, "a", IsNull, Value::None)],
        ),
        (
            Runs,
            "tags.a IS NOT NULL",
            vec![c(T, "a", IsNotNull, Value::None)],
        ),
        (
            Runs,
            "params.a is not null",
            vec![c(P, "a", IsNotNull, Value::None)],
        ),
        (
            Runs,
            "params.a IS  NOT  NULL",
            vec![c(P, "a", IsNotNull, Value::None)],
        ),
        (
            Runs,
            "params.a IS NULL AND params.b IS NOT NULL",
            vec![
                c(P, "a", IsNull, Value::None),
                c(P, "b", IsNotNull, Value::None),
            ],
        ),
        // Lists.
        (
            Runs,
            "run_id IN ('a', 'b')",
            vec![c(A, "run_id", In, l(&["a", "b"]))],
        ),
        (
            Runs,
            "run_id in ('a', 'b')",
            vec![c(A, "run_id", In, l(&["a", "b"]))],
        ),
        (
            Runs,
            "run_id NOT IN ('a', 'b')",
            vec![c(A, "run_id", NotIn, l(&["a", "b"]))],
        ),
        (
            Runs,
            "run_id not in ('a')",
            vec![c(A, "run_id", NotIn, l(&["a"]))],
        ),
        (
            Runs,
            "run_id NOT  IN ('a')",
            vec![c(A, "run_id", NotIn, l(&["a"]))],
        ),
        (
            Runs,
            "run_id IN ('a',)",
            vec![c(A, "run_id", In, l(&["a"]))],
        ),
        (
            Runs,
            "run_id IN (\"a\", \"b\")",
            vec![c(A, "run_id", In, l(&["a", "b"]))],
        ),
        (
            Runs,
            "run_id IN ( 'a' )",
            vec![c(A, "run_id", In, l(&["a"]))],
        ),
        (
            Runs,
            "run_id IN ('a', 'b',)",
            vec![c(A, "run_id", In, l(&["a", "b"]))],
        ),
        (
            Runs,
            "run_id IN ('a' 'b')",
            vec![c(A, "run_id", In, l(&["ab"]))],
        ),
        (
            Runs,
            "run_id IN ('a\\'b')",
            vec![c(A, "run_id", In, l(&["a'b"]))],
        ),
        (
            Runs,
            "run_id IN ('it''s')",
            vec![c(A, "run_id", In, l(&["its"]))],
        ),
        (
            Runs,
            "run_id IN ('a\\\\b', \"c\\\"d\")",
            vec![c(A, "run_id", In, l(&["a\\b", "c\"d"]))],
        ),
        (
            Runs,
            "run_id IN ('', '')",
            vec![c(A, "run_id", In, l(&["", ""]))],
        ),
        (
            Runs,
            "run_id IN ('日本')",
            vec![c(A, "run_id", In, l(&["日本"]))],
        ),
        (
            Runs,
            "run_id IN ('a','b')AND params.x = 'y'",
            vec![c(A, "run_id", In, l(&["a", "b"])), c(P, "x", Eq, s("y"))],
        ),
        // Attributes and their aliases.
        (Runs, "run_id = 'abc'", vec![c(A, "run_id", Eq, s("abc"))]),
        (Runs, "run_name = 'x'", vec![c(A, "run_name", Eq, s("x"))]),
        (Runs, "`Run Name` = 'x'", vec![c(A, "run_name", Eq, s("x"))]),
        (Runs, "`run name` = 'x'", vec![c(A, "run_name", Eq, s("x"))]),
        (
            Runs,
            "\"Run name\" = 'x'",
            vec![c(A, "run_name", Eq, s("x"))],
        ),
        (
            Runs,
            "attributes.run_name = 'x'",
            vec![c(A, "run_name", Eq, s("x"))],
        ),
        (Runs, "`run_id` = 'x'", vec![c(A, "run_id", Eq, s("x"))]),
        (Runs, "created > 5", vec![c(A, "start_time", Gt, n(5.0))]),
        (Runs, "Created > 5", vec![c(A, "start_time", Gt, n(5.0))]),
        (
            Runs,
            "\"created\" > 5",
            vec![c(A, "start_time", Gt, n(5.0))],
        ),
        (
            Runs,
            "start_time > 5.5",
            vec![c(A, "start_time", Gt, n(5.5))],
        ),
        (
            Runs,
            "start_time > -5",
            vec![c(A, "start_time", Gt, n(-5.0))],
        ),
        (Runs, "end_time > 0", vec![c(A, "end_time", Gt, n(0.0))]),
        (Runs, "status LIKE 'x'", vec![c(A, "status", Like, s("x"))]),
        (
            Runs,
            "user_id ILIKE '%bob%'",
            vec![c(A, "user_id", ILike, s("%bob%"))],
        ),
        (
            Runs,
            "attribute.artifact_uri LIKE 's3://%'",
            vec![c(A, "artifact_uri", Like, s("s3://%"))],
        ),
        (
            Runs,
            "status = 'FINISHED' AND start_time >= 1700000000000",
            vec![
                c(A, "status", Eq, s("FINISHED")),
                c(A, "start_time", Ge, n(1.7e12)),
            ],
        ),
        // Datasets.
        (Runs, "datasets.name = 'x'", vec![c(D, "name", Eq, s("x"))]),
        (
            Runs,
            "dataset.context IN ('a','b')",
            vec![c(D, "context", In, l(&["a", "b"]))],
        ),
        (
            Runs,
            "datasets.digest LIKE 'a%'",
            vec![c(D, "digest", Like, s("a%"))],
        ),
        (Runs, "dataset.`name` = 'x'", vec![c(D, "name", Eq, s("x"))]),
        (
            Runs,
            "datasets.\"digest\" != 'x'",
            vec![c(D, "digest", Ne, s("x"))],
        ),
        // MLflow's leniency about AND.
        (Runs, "metrics.a > 1 AND", vec![c(M, "a", Gt, n(1.0))]),
        (Runs, "AND metrics.a > 1", vec![c(M, "a", Gt, n(1.0))]),
        (
            Runs,
            "metrics.a > 1 AND AND params.b = 'x'",
            vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
        ),
        (
            Runs,
            "metrics.a > 1 params.b = 'x'",
            vec![c(M, "a", Gt, n(1.0)), c(P, "b", Eq, s("x"))],
        ),
        (
            Runs,
            "params.a = 'x' AND params.a = 'y'",
            vec![c(P, "a", Eq, s("x")), c(P, "a", Eq, s("y"))],
        ),
        (Runs, "params.from = 'x'", vec![c(P, "from", Eq, s("x"))]),
        // Experiments.
        (Exp, "name = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Exp, "name LIKE 'x%'", vec![c(A, "name", Like, s("x%"))]),
        (Exp, "name ilike 'x%'", vec![c(A, "name", ILike, s("x%"))]),
        (
            Exp,
            "name != 'a' AND name != 'b'",
            vec![c(A, "name", Ne, s("a")), c(A, "name", Ne, s("b"))],
        ),
        (Exp, "name = \"x\"", vec![c(A, "name", Eq, s("x"))]),
        (Exp, "`name` = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Exp, "\"name\" = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Exp, "attribute.name = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Exp, "attributes.name = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (
            Exp,
            "experiment_id = '1'",
            vec![c(A, "experiment_id", Eq, s("1"))],
        ),
        (
            Exp,
            "experiment_id != '5'",
            vec![c(A, "experiment_id", Ne, s("5"))],
        ),
        (
            Exp,
            "experiment_id IN ('1','2')",
            vec![c(A, "experiment_id", In, l(&["1", "2"]))],
        ),
        (
            Exp,
            "experiment_id NOT IN ('5')",
            vec![c(A, "experiment_id", NotIn, l(&["5"]))],
        ),
        (
            Exp,
            "creation_time > 5",
            vec![c(A, "creation_time", Gt, n(5.0))],
        ),
        (
            Exp,
            "creation_time = -5",
            vec![c(A, "creation_time", Eq, n(-5.0))],
        ),
        (
            Exp,
            "creation_time >= 1700000000000 AND last_update_time < 5",
            vec![
                c(A, "creation_time", Ge, n(1.7e12)),
                c(A, "last_update_time", Lt, n(5.0)),
            ],
        ),
        (Exp, "tags.a = 'x'", vec![c(T, "a", Eq, s("x"))]),
        (Exp, "tag.a = 'x'", vec![c(T, "a", Eq, s("x"))]),
        (Exp, "tags.`a b` = 'x'", vec![c(T, "a b", Eq, s("x"))]),
        (Exp, "tags.\"a b\" = 'x'", vec![c(T, "a b", Eq, s("x"))]),
        (Exp, "tags.a IS NULL", vec![c(T, "a", IsNull, Value::None)]),
        (
            Exp,
            "tags.a IS NOT NULL",
            vec![c(T, "a", IsNotNull, Value::None)],
        ),
        (
            Exp,
            "name = 'x' AND tags.a LIKE 'y'",
            vec![c(A, "name", Eq, s("x")), c(T, "a", Like, s("y"))],
        ),
        // Registered models.
        (Rm, "name = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Rm, "name ilike 'x%'", vec![c(A, "name", ILike, s("x%"))]),
        (
            Rm,
            "name IN ('a','b')",
            vec![c(A, "name", In, l(&["a", "b"]))],
        ),
        (
            Rm,
            "name NOT IN ('a')",
            vec![c(A, "name", NotIn, l(&["a"]))],
        ),
        (Rm, "attribute.name = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Rm, "\"name\" = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Rm, "tags.a = 'x'", vec![c(T, "a", Eq, s("x"))]),
        (Rm, "tags.`a b` = 'x'", vec![c(T, "a b", Eq, s("x"))]),
        (
            Rm,
            "tag.`mlflow.prompt.is_prompt` != 'true'",
            vec![c(T, "mlflow.prompt.is_prompt", Ne, s("true"))],
        ),
        (
            Rm,
            "name LIKE 'lin%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
            vec![
                c(A, "name", Like, s("lin%")),
                c(T, "mlflow.prompt.is_prompt", Ne, s("true")),
            ],
        ),
        // Model versions.
        (Mv, "name = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (
            Mv,
            "name IN ('a','b')",
            vec![c(A, "name", In, l(&["a", "b"]))],
        ),
        (
            Mv,
            "version_number = 1",
            vec![c(A, "version_number", Eq, n(1.0))],
        ),
        (
            Mv,
            "version_number = '1'",
            vec![c(A, "version_number", Eq, n(1.0))],
        ),
        (
            Mv,
            "version_number = ' 3 '",
            vec![c(A, "version_number", Eq, n(3.0))],
        ),
        (
            Mv,
            "version_number > 1",
            vec![c(A, "version_number", Gt, n(1.0))],
        ),
        (
            Mv,
            "version_number >= 2 AND version_number < '5'",
            vec![
                c(A, "version_number", Ge, n(2.0)),
                c(A, "version_number", Lt, n(5.0)),
            ],
        ),
        (
            Mv,
            "source_path = 'x'",
            vec![c(A, "source_path", Eq, s("x"))],
        ),
        (
            Mv,
            "source_path LIKE 'x%'",
            vec![c(A, "source_path", Like, s("x%"))],
        ),
        (Mv, "run_id IN ('a')", vec![c(A, "run_id", In, l(&["a"]))]),
        (
            Mv,
            "run_id NOT IN ('a', 'b')",
            vec![c(A, "run_id", NotIn, l(&["a", "b"]))],
        ),
        (Mv, "run_id LIKE 'a'", vec![c(A, "run_id", Like, s("a"))]),
        (
            Mv,
            "name = 'x' AND tags.k ILIKE 'v'",
            vec![c(A, "name", Eq, s("x")), c(T, "k", ILike, s("v"))],
        ),
        (
            Mv,
            "tags.`mlflow.prompt.is_prompt` != 'true'",
            vec![c(T, "mlflow.prompt.is_prompt", Ne, s("true"))],
        ),
        // Logged models.
        (Lm, "name = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Lm, "name ilike 'x%'", vec![c(A, "name", ILike, s("x%"))]),
        (
            Lm,
            "name IN ('a','b')",
            vec![c(A, "name", In, l(&["a", "b"]))],
        ),
        (
            Lm,
            "name NOT IN ('a')",
            vec![c(A, "name", NotIn, l(&["a"]))],
        ),
        (Lm, "name = x", vec![c(A, "name", Eq, s("x"))]),
        (Lm, "`name` = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (Lm, "attributes.name = 'x'", vec![c(A, "name", Eq, s("x"))]),
        (
            Lm,
            "creation_time > 5",
            vec![c(A, "creation_timestamp", Gt, n(5.0))],
        ),
        (
            Lm,
            "creation_timestamp > 5.5",
            vec![c(A, "creation_timestamp", Gt, n(5.5))],
        ),
        (
            Lm,
            "last_updated_timestamp <= 5",
            vec![c(A, "last_updated_timestamp", Le, n(5.0))],
        ),
        (
            Lm,
            "last_updated_time = 5",
            vec![c(A, "last_updated_timestamp", Eq, n(5.0))],
        ),
        (
            Lm,
            "metrics.acc > 0.9 AND params.lr = 0.01",
            vec![c(M, "acc", Gt, n(0.9)), c(P, "lr", Eq, s("0.01"))],
        ),
        (Lm, "params.lr = '0.01'", vec![c(P, "lr", Eq, s("0.01"))]),
        (
            Lm,
            "params.lr IN ('a', 'b')",
            vec![c(P, "lr", In, l(&["a", "b"]))],
        ),
        (Lm, "tags.k IN ('a')", vec![c(T, "k", In, l(&["a"]))]),
        (
            Lm,
            "params.lr IN (0.01, '0.1', -1)",
            vec![c(P, "lr", In, l(&["0.01", "0.1", "-1"]))],
        ),
        (Lm, "tags.`a b` = 'x'", vec![c(T, "a b", Eq, s("x"))]),
        (Lm, "status = 'READY'", vec![c(A, "status", Eq, s("READY"))]),
        (
            Lm,
            "source_run_id = 'abc'",
            vec![c(A, "source_run_id", Eq, s("abc"))],
        ),
        (Lm, "model_id = 'm-1'", vec![c(A, "model_id", Eq, s("m-1"))]),
        (
            Lm,
            "model_type LIKE '%sk%'",
            vec![c(A, "model_type", Like, s("%sk%"))],
        ),
        (Lm, "metric.acc >= 1", vec![c(M, "acc", Ge, n(1.0))]),
    ];
    let mut failures = Vec::new();
    for (kind, filter, expected) in cases {
        match parse_filter(kind, filter) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!("{kind:?} {filter:?}: got {got:?}")),
            Err(e) => failures.push(format!("{kind:?} {filter:?} rejected: {}", e.message)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Filters that are rejected, with a substring of the expected message. Where MLflow
/// has a deterministic message it is reproduced exactly (the substring is the whole
/// MLflow message); syntax errors add a position and an expectation.
#[test]
fn rejected_filters() {
    let cases: Vec<(SearchKind, &str, &str)> = vec![
        // Connectives and grouping.
        (Runs, "metrics.a > 1 OR params.b = 'x'", "Invalid clause(s) in filter string: 'OR' "),
        (Runs, "metrics.a > 1 OR params.b = 'x'", "at position 14: OR is not supported"),
        (
            Runs,
            "tags.a = 'b' AND tags.c = 'd' OR tags.e = 'f'",
            "Invalid clause(s) in filter string: 'OR'",
        ),
        (Runs, "(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'"),
        (Runs, "(metrics.a > 1)", "parentheses are not supported"),
        (
            Runs,
            "metrics.a > 1 AND (params.b = 'x')",
            "Invalid clause(s) in filter string: '(params.b = 'x')'",
        ),
        (Runs, "NOT metrics.a > 1", "Invalid clause(s) in filter string: 'NOT'"),
        (Runs, "NOT metrics.a > 1", "NOT is only supported as part of NOT IN"),
        (Runs, "metrics.a > 1 AND OR", "Invalid clause(s) in filter string: 'OR'"),
        (Runs, "metrics.a > 1 && params.b = 'x'", "Invalid clause(s) in filter string: '&', '&'"),
        (
            Runs,
            "params.a = 'x' ANDAND params.b = 'y'",
            "Invalid clause(s) in filter string: 'ANDAND'",
        ),
        (
            Runs,
            "metrics.a > 1; params.b = 'x'",
            "Search filter contained multiple expression \"metrics.a > 1; params.b = 'x'\". \
             Provide AND-ed expression list.",
        ),
        (Runs, "metrics.a > 1;", "Invalid clause(s) in filter string: ';'"),
        (Runs, ";", "Invalid clause(s) in filter string: ';'"),
        // Incomplete comparisons, with position and expectation.
        (Runs, "metrics.a >", "Invalid clause(s) in filter string: 'metrics.a', '>' "),
        (Runs, "metrics.a >", "at position 11: expected a value"),
        (Runs, "metrics.a >", "found end of input"),
        (Runs, "metrics.a", "Invalid clause(s) in filter string: 'metrics.a' "),
        (Runs, "metrics.a", "at position 9: expected a comparison operator"),
        (Runs, " > 1", "Invalid clause(s) in filter string: '>', '1'"),
        (Runs, " > 1", "at position 1: expected an identifier"),
        (Runs, "metrics.a = - 1", "Invalid clause(s) in filter string: 'metrics.a', '=', '-', '1'"),
        (Runs, "metrics.a > -inf", "Invalid clause(s) in filter string: 'metrics.a', '>', '-', 'inf'"),
        (Runs, "metrics.a ! = 1", "Invalid clause(s) in filter string: 'metrics.a', '!', '=', '1'"),
        (Runs, "metrics.a > 1 2", "Invalid clause(s) in filter string: '2'"),
        (Runs, "metrics.a > 1 AND 2", "Invalid clause(s) in filter string: '2'"),
        (Runs, "params.a = 'x' 'y'", "Invalid clause(s) in filter string: ''y''"),
        (Runs, "params.a = 'x' AND params.b", "Invalid clause(s) in filter string: 'params.b'"),
        (Runs, "params.a = 'x' AND params.b =", "at position 29: expected a value"),
        (Runs, "params.a IS", "Invalid clause(s) in filter string: 'params.a', 'IS'"),
        (Runs, "params.a IS", "expected NULL or NOT NULL after IS"),
        (Runs, "params.a IS NOT", "expected NULL after IS NOT"),
        (Runs, "params.a IS 'x'", "Invalid clause(s) in filter string: 'params.a', 'IS', ''x''"),
        (Runs, "params.a ISNULL", "Invalid clause(s) in filter string: 'params.a', 'ISNULL'"),
        (Runs, "params.a IS NULL extra", "Invalid clause(s) in filter string: 'extra'"),
        (Runs, "run_id NOT", "Invalid clause(s) in filter string: 'run_id', 'NOT'"),
        (Runs, "run_id NOT", "expected IN after NOT"),
        (Runs, "run_id IN", "Invalid clause(s) in filter string: 'run_id', 'IN'"),
        (Runs, "run_id IN 'a'", "Invalid clause(s) in filter string: 'run_id', 'IN', ''a''"),
        (Runs, "run_id IN 'a'", "expected a parenthesised list of quoted strings after IN"),
        (Runs, "run_id IN (", "unterminated list"),
        (Runs, "run_id IN ('a'", "at position 10: unterminated list"),
        (Runs, "run_id IN [\"a\"]", "Invalid clause(s) in filter string: 'run_id', 'IN'"),
        (Runs, "params.a = 'x", "Invalid clause(s) in filter string: 'params.a', '=', ''', 'x'"),
        (Runs, "params.a = 'x", "at position 11: unterminated string"),
        (Runs, "params.a = \"x", "unterminated string"),
        (Runs, "params.a = 'x''", "Invalid clause(s) in filter string: '''"),
        (Runs, "metrics.a > 1 -- comment", "Invalid clause(s) in filter string: '-', '-', 'comment'"),
        (Runs, "'metrics'.a > 1", "Invalid clause(s) in filter string: ''metrics''"),
        (Runs, "'run_id' = 'x'", "at position 0: expected an identifier"),
        (Runs, ".a > 1", "Invalid clause(s) in filter string: '.' (at position 0"),
        // Keys with special characters must be quoted.
        (Runs, "params.learning-rate = 'x'", "Invalid clause(s) in filter string: 'params.learning', '-'"),
        (Runs, "params.learning-rate = 'x'", "at position 15: expected a comparison operator"),
        (Runs, "tags.a:b = 'x'", "Invalid clause(s) in filter string: 'tags.a', ':'"),
        (Runs, "params.a$b = 'x'", "Invalid clause(s) in filter string: 'params.a', '$'"),
        (Runs, "metrics. > 1", "at position 8: expected a key after '.'"),
        (Runs, "metrics. a > 1", "expected a key after '.'"),
        (Runs, "metrics . a > 1", "Invalid clause(s) in filter string: 'metrics', '.' "),
        (Runs, "tags.`a b = 'x'", "unterminated `-quoted key"),
        (Runs, "`tags.a = 'x'", "unterminated `-quoted name"),
        // Numbers that are not numbers.
        (Runs, "metrics.a > 1.5a", "invalid number '1.5a'"),
        (Runs, "metrics.a > 1.5.5", "invalid number '1.5.5'"),
        (Runs, "metrics.a = 1ANDmetrics.b=2", "invalid number '1ANDmetrics.b'"),
        (Runs, "metrics.a > 1e", "Expected numeric value type for metric. Found 1e"),
        (Runs, "metrics.a > 1_000", "Expected numeric value type for metric. Found 1_000"),
        (Runs, "metrics.a > 1a", "Expected numeric value type for metric. Found 1a"),
        (Runs, "metrics.a > inf", "Expected numeric value type for metric. Found inf"),
        (Runs, "metrics.a > NaN", "Expected numeric value type for metric. Found NaN"),
        (Runs, "metrics.a = 0x10", "Expected numeric value type for metric. Found 0x10"),
        // Entities and keys.
        (
            Runs,
            "\"tags\".\"a b\" = 'x'",
            "Invalid entity type '\"tags\"'. Valid values are ['metric', 'parameter', 'tag', \
             'attribute', 'dataset']",
        ),
        (Runs, "foo.bar = 'x'", "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"),
        (Runs, "METRICS.a > 1", "Invalid entity type 'METRICS'."),
        (Runs, "Metrics.a > 1", "Invalid entity type 'Metrics'."),
        (Runs, "params.a = 'x' ANDparams.b = 'y'", "Invalid entity type 'ANDparams'."),
        (Runs, "foo = 'x'", "Invalid attribute key 'foo' specified. Valid keys are '{'run_id', 'run_name', "),
        (Runs, "attributes.foo = 'x'", "Invalid attribute key 'foo' specified."),
        (Runs, "lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage' specified."),
        (Runs, "experiment_id = '1'", "Invalid attribute key 'experiment_id' specified."),
        (Runs, "`metrics.a` > 1", "Invalid attribute key 'metrics.a' specified."),
        (
            Runs,
            "datasets.foo = 'x'",
            "Invalid dataset key 'foo' specified. Valid keys are '{'name', 'digest', 'context'}'",
        ),
        // Values of the wrong type.
        (
            Runs,
            "params.a = x",
            "Parameter value is either not quoted or unidentified quote types used for string \
             value x. Use either single or double quotes.",
        ),
        (Runs, "params.a = `x`", "unidentified quote types used for string value `x`."),
        (Runs, "tags.a = b.c", "unidentified quote types used for string value b.c."),
        (Runs, "status = RUNNING", "unidentified quote types used for string value RUNNING."),
        (
            Runs,
            "params.a = 1",
            "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1",
        ),
        (Runs, "tags.a = 1.5", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1.5"),
        (Runs, "params.a = NULL", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value NULL"),
        (
            Runs,
            "params.a IN ('x')",
            "Expected a quoted string value for parameter (e.g. 'my-value'). Got value ('x')",
        ),
        (Runs, "tags.a NOT IN ('x')", "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')"),
        (Runs, "metrics.a = '1'", "Expected numeric value type for metric. Found '1'"),
        (Runs, "metrics.a = \"1\"", "Expected numeric value type for metric. Found \"1\""),
        (Runs, "metrics.a IN (1)", "Expected numeric value type for metric. Found (1)"),
        (
            Runs,
            "start_time > '5'",
            "Expected numeric value type for numeric attribute: start_time. Found '5'",
        ),
        (Runs, "created > '5'", "Expected numeric value type for numeric attribute: created. Found '5'"),
        (Runs, "status = 1", "Expected a quoted string value for attributes. Got value 1"),
        (Runs, "datasets.name = 1", "Expected a quoted string value for dataset attributes. Got value 1"),
        (Runs, "datasets.context = x", "unidentified quote types used for string value x."),
        // Lists.
        (
            Runs,
            "status IN ('a')",
            "Only ['run_id'] attributes support comparison with a list of quoted string values.",
        ),
        (Runs, "run_name NOT IN ('a')", "Only ['run_id'] attributes support comparison"),
        (Runs, "status = ('a')", "Only ['run_id'] attributes support comparison"),
        (
            Runs,
            "run_id IN ()",
            "While parsing a list in the query, expected a non-empty list of string values, but \
             got empty list",
        ),
        (
            Runs,
            "run_id IN (1, 2)",
            "While parsing a list in the query, expected string value, punctuation, or \
             whitespace, but got different type in list: (1, 2)",
        ),
        (Runs, "run_id IN (1.5, 'a')", "but got different type in list: (1.5, 'a')"),
        (
            Runs,
            "run_id IN ('a'; 'b')",
            "While parsing a list in the query, expected a non-empty list of string values, but \
             got ill-formed list.",
        ),
        (Runs, "run_id IN (,)", "got ill-formed list."),
        (Runs, "run_id IN ('a',,'b')", "got ill-formed list."),
        (Runs, "run_id IN (x)", "got ill-formed list."),
        (Runs, "run_id IN ('a' AND 'b')", "got ill-formed list."),
        (Runs, "run_id = ('a', 'b')", "Invalid comparison: '=' cannot be used with the value ('a', 'b')"),
        (Runs, "run_id LIKE ('a')", "Invalid comparison: 'LIKE' cannot be used"),
        // Comparators.
        (Runs, "metrics.a == 1", "Invalid comparator '==' not one of '{'=', '!=', '>', '>=', '<', '<='}'"),
        (Runs, "metrics.a <> 1", "Invalid comparator '<>' not one of"),
        (Runs, "metrics.a<>1", "Invalid comparator '<>' not one of"),
        (Runs, "metrics.a =< 1", "Invalid comparator '=<' not one of"),
        (Runs, "metrics.a ~ 1", "Invalid comparator '~' not one of"),
        (Runs, "metrics.a LIKE 1", "Invalid comparator 'LIKE' not one of '{'=', '!=', '>', '>=', '<', '<='}'"),
        (
            Runs,
            "params.a NOT LIKE 'x'",
            "Invalid comparator 'NOT LIKE' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IS NULL', \
             'IS NOT NULL'}'",
        ),
        (Runs, "tags.a NOT ILIKE 'x'", "Invalid comparator 'NOT ILIKE' not one of"),
        (Runs, "params.a > 'x'", "Invalid comparator '>' not one of"),
        (Runs, "params.a=='x'", "Invalid comparator '==' not one of"),
        (Runs, "start_time LIKE 5", "Invalid comparator 'LIKE' not one of"),
        (
            Runs,
            "status > 'x'",
            "Invalid comparator '>' not one of '{'=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'",
        ),
        (Runs, "datasets.name > 'a'", "Invalid comparator '>' not one of"),
        (
            Runs,
            "metrics.a IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'a'",
        ),
        (
            Runs,
            "attributes.status IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'attribute' \
             'status'",
        ),
        (Runs, "created IS NOT NULL", "not for 'attribute' 'created'"),
        (Runs, "datasets.name IS NULL", "not for 'dataset' 'name'"),
        // Experiments.
        (
            Exp,
            "name IN ('a','b')",
            "Only ['experiment_id'] attributes support comparison with a list of quoted string \
             values.",
        ),
        (Exp, "experiment_id = 1", "Expected a quoted string value for attributes. Got value 1"),
        (Exp, "experiment_id LIKE '1'", "Invalid comparator for experiment_id: LIKE"),
        (
            Exp,
            "experiment_id = 'abc'",
            "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.",
        ),
        (Exp, "experiment_id IN ('1', 'a')", "Invalid experiment ID 'a'."),
        (Exp, "creation_time > 5.5", "Invalid value for numeric attribute 'creation_time': '5.5'"),
        (Exp, "creation_time = 1.0", "Invalid value for numeric attribute 'creation_time': '1.0'"),
        (
            Exp,
            "creation_time > '5'",
            "Expected numeric value type for numeric attribute: creation_time. Found '5'",
        ),
        (Exp, "creation_time LIKE 5", "Invalid comparator 'LIKE' not one of"),
        (
            Exp,
            "name IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags, not for attribute 'name'",
        ),
        (
            Exp,
            "tags.a IN ('x')",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')",
        ),
        (
            Exp,
            "params.a = 'x'",
            "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
        (Exp, "metrics.a > 1", "Invalid entity type 'metrics'."),
        (Exp, "run.name = 'x'", "Invalid entity type 'run'."),
        (
            Exp,
            "foo = 'x'",
            "Invalid attribute key 'foo' specified. Valid keys are '{'name', 'experiment_id', \
             'creation_time', 'last_update_time'}'",
        ),
        (Exp, "lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage' specified."),
        (Exp, "name = 'x' OR name = 'y'", "Invalid clause(s) in filter string: OR (at position 11"),
        (Exp, "name", "Invalid clause(s) in filter string: name (at position 4"),
        (Exp, "name > 'x'", "Invalid comparator '>' not one of"),
        (Exp, "name IN ('x')", "Only ['experiment_id'] attributes support"),
        (Exp, "tags.a > 'x'", "Invalid comparator for tag: >"),
        (Exp, "name = x", "unidentified quote types used for string value x."),
        (Exp, "name = 1", "Expected a quoted string value for attributes. Got value 1"),
        (Exp, "a; b", "Search filter contained multiple expression 'a; b'."),
        // Registered models.
        (
            Rm,
            "experiment_id = '1'",
            "Invalid attribute key 'experiment_id' specified. Valid keys are '{'name'}'",
        ),
        (Rm, "creation_time > 5", "Invalid attribute key 'creation_time' specified."),
        (Rm, "tags.a IS NULL", "Invalid comparator for tag: IS NULL"),
        (Rm, "tags.a IS NOT NULL", "Invalid comparator for tag: IS NOT NULL"),
        (Rm, "name IS NULL", "Invalid comparator for attribute: IS NULL"),
        (
            Rm,
            "name = 1",
            "Expected a quoted string value or a list of quoted string values for attributes. \
             Got value 1",
        ),
        (Rm, "name > 'x'", "Invalid comparator for attribute: >"),
        (Rm, "tags.a > 'x'", "Invalid comparator for tag: >"),
        (
            Rm,
            "tags.a IN ('x')",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')",
        ),
        (Rm, "params.a = 'x'", "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')"),
        (Rm, "name = 'x' 2", "Invalid clause(s) in filter string: 2 (at position 11"),
        (Rm, "name = x", "unidentified quote types used for string value x."),
        // Model versions.
        (Mv, "version_number = 'abc'", "Invalid value for numeric attribute 'version_number': 'abc'"),
        (Mv, "version_number = '1.5'", "Invalid value for numeric attribute 'version_number': '1.5'"),
        (Mv, "version_number = 1.5", "Invalid value for numeric attribute 'version_number': 1.5"),
        (Mv, "version_number LIKE 1", "Invalid comparator for attribute version_number: LIKE"),
        (Mv, "version_number IS NULL", "Invalid comparator for attribute version_number: IS NULL"),
        (
            Mv,
            "version_number IN ('1')",
            "Only ['name', 'run_id'] attributes support comparison with a list of quoted string \
             values.",
        ),
        (Mv, "source_path IN ('a')", "Only ['name', 'run_id'] attributes support comparison"),
        (
            Mv,
            "name = 1",
            "Only the '{'creation_timestamp', 'last_updated_timestamp', 'version_number'}' \
             attributes support comparison with numeric values.",
        ),
        (Mv, "run_id = 1", "attributes support comparison with numeric values."),
        (Mv, "name > 'x'", "Invalid comparator for attribute: >"),
        (Mv, "tags.a > 'x'", "Invalid comparator for tag: >"),
        (Mv, "tags.a IS NULL", "Invalid comparator for tag: IS NULL"),
        (Mv, "creation_time > 5", "Invalid attribute key 'creation_time' specified. Valid keys are '{'name', 'version_number', 'run_id', 'source_path'}'"),
        (Mv, "metrics.a > 1", "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"),
        // Logged models.
        (
            Lm,
            "name > 'x'",
            "Invalid comparison operator for attributes.name: '>'. Expected one of ('=', '!=', \
             'LIKE', 'ILIKE', 'IN', 'NOT IN').",
        ),
        (
            Lm,
            "creation_time LIKE 5",
            "Invalid comparison operator for attributes.creation_timestamp: 'LIKE'. Expected \
             one of ('<', '<=', '>', '>=', '=', '!=').",
        ),
        (Lm, "metrics.acc IN (1)", "Invalid comparison operator for metrics.acc: 'IN'."),
        (Lm, "metrics.acc LIKE 1", "Invalid comparison operator for metrics.acc: 'LIKE'."),
        (Lm, "tags.a IS NULL", "Invalid comparison operator for tags.a: 'IS NULL'."),
        (Lm, "params.a > 'x'", "Invalid comparison operator for params.a: '>'."),
        (
            Lm,
            "datasets.name = 'x'",
            "Invalid entity type: 'datasets'. Expected one of ['attributes', 'metrics', \
             'params', 'tags'].",
        ),
        (Lm, "foo = 'x'", "Invalid attribute key 'foo' specified."),
        (Lm, "experiment_id = '1'", "Invalid attribute key 'experiment_id' specified."),
        (Lm, "metrics.acc > '1'", "Expected numeric value type for metric. Found '1'"),
        (Lm, "metrics.acc > x", "Expected numeric value type for metric. Found x"),
        (
            Lm,
            "creation_time > 'x'",
            "Expected numeric value type for numeric attribute: creation_time. Found 'x'",
        ),
        (Lm, "name = `x`", "unidentified quote types used for string value `x`."),
        (
            Lm,
            "name = 'x' OR name = 'y'",
            "Invalid filter string: \"name = 'x' OR name = 'y'\". Expected a list of \
             comparisons separated by 'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01'). \
             (at position 11: OR is not supported",
        ),
        (Lm, "name", "Invalid filter string: 'name'. Expected a list of comparisons"),
        (Lm, "a; b", "Invalid filter string: 'a; b'. Expected a single SQL expression."),
    ];
    let mut failures = Vec::new();
    for (kind, filter, expected) in cases {
        match parse_filter(kind, filter) {
            Ok(got) => failures.push(format!("{kind:?} {filter:?} accepted: {got:?}")),
            Err(e) if e.code != ErrorCode::INVALID_PARAMETER_VALUE => {
                failures.push(format!("{kind:?} {filter:?}: code {:?}", e.code))
            }
            Err(e) if !e.message.contains(expected) => failures.push(format!(
                "{kind:?} {filter:?}:\n  message:  {}\n  expected: {expected}",
                e.message
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn syntax_error_lists_at_most_twenty_stretches() {
    let filter = "x ".repeat(100);
    let err = parse_filter(Runs, &filter).unwrap_err();
    assert!(err.message.ends_with("expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL), found 'x')"), "{}", err.message);
    assert_eq!(err.message.matches("'x'").count(), 21, "{}", err.message);
    assert!(
        err.message.contains("'x', ...  (at") || err.message.contains("'x', ... (at"),
        "{}",
        err.message
    );
}

#[test]
fn accepted_order_by() {
    let cases: Vec<(SearchKind, Vec<&str>, Vec<OrderBy>)> = vec![
        (Runs, vec![], vec![]),
        (Runs, vec!["start_time"], vec![o(A, "start_time", true)]),
        (
            Runs,
            vec!["start_time DESC"],
            vec![o(A, "start_time", false)],
        ),
        (
            Runs,
            vec!["start_time desc"],
            vec![o(A, "start_time", false)],
        ),
        (Runs, vec!["start_time Asc"], vec![o(A, "start_time", true)]),
        (
            Runs,
            vec!["start_time  DESC"],
            vec![o(A, "start_time", false)],
        ),
        (
            Runs,
            vec![" start_time DESC "],
            vec![o(A, "start_time", false)],
        ),
        (Runs, vec!["metrics.a DESC"], vec![o(M, "a", false)]),
        (Runs, vec!["metrics.`a b` DESC"], vec![o(M, "a b", false)]),
        (Runs, vec!["metrics.\"a b\" ASC"], vec![o(M, "a b", true)]),
        (Runs, vec!["params.a"], vec![o(P, "a", true)]),
        (
            Runs,
            vec!["tags.`mlflow.runName`"],
            vec![o(T, "mlflow.runName", true)],
        ),
        (
            Runs,
            vec!["tags.mlflow.runName DESC"],
            vec![o(T, "mlflow.runName", false)],
        ),
        (
            Runs,
            vec!["attributes.start_time"],
            vec![o(A, "start_time", true)],
        ),
        (Runs, vec!["attr.run_name"], vec![o(A, "run_name", true)]),
        (Runs, vec!["run_name"], vec![o(A, "run_name", true)]),
        (Runs, vec!["created DESC"], vec![o(A, "start_time", false)]),
        (Runs, vec!["Created"], vec![o(A, "start_time", true)]),
        (Runs, vec!["\"start_time\""], vec![o(A, "start_time", true)]),
        (
            Runs,
            vec!["`start_time` DESC"],
            vec![o(A, "start_time", false)],
        ),
        (Runs, vec!["`Run Name`"], vec![o(A, "run_name", true)]),
        (
            Runs,
            vec!["metrics.a", "params.a", "tags.a", "end_time DESC"],
            vec![
                o(M, "a", true),
                o(P, "a", true),
                o(T, "a", true),
                o(A, "end_time", false),
            ],
        ),
        (
            Runs,
            vec!["user_id", "status", "artifact_uri", "run_id"],
            vec![
                o(A, "user_id", true),
                o(A, "status", true),
                o(A, "artifact_uri", true),
                o(A, "run_id", true),
            ],
        ),
        (Exp, vec!["name"], vec![o(A, "name", true)]),
        (
            Exp,
            vec!["experiment_id ASC"],
            vec![o(A, "experiment_id", true)],
        ),
        (
            Exp,
            vec!["creation_time DESC"],
            vec![o(A, "creation_time", false)],
        ),
        (
            Exp,
            vec!["last_update_time"],
            vec![o(A, "last_update_time", true)],
        ),
        (Exp, vec!["attribute.name DESC"], vec![o(A, "name", false)]),
        (
            Exp,
            vec!["name", "name DESC"],
            vec![o(A, "name", true), o(A, "name", false)],
        ),
        (Rm, vec!["name"], vec![o(A, "name", true)]),
        (Rm, vec!["`name` DESC"], vec![o(A, "name", false)]),
        (
            Rm,
            vec!["timestamp"],
            vec![o(A, "last_updated_timestamp", true)],
        ),
        (
            Rm,
            vec!["timestamp DESC"],
            vec![o(A, "last_updated_timestamp", false)],
        ),
        (
            Rm,
            vec!["last_updated_timestamp DESC"],
            vec![o(A, "last_updated_timestamp", false)],
        ),
        (
            Rm,
            vec!["creation_timestamp"],
            vec![o(A, "creation_timestamp", true)],
        ),
        (
            Rm,
            vec!["name DESC", "timestamp"],
            vec![o(A, "name", false), o(A, "last_updated_timestamp", true)],
        ),
        (Mv, vec!["name"], vec![o(A, "name", true)]),
        (
            Mv,
            vec!["version_number DESC"],
            vec![o(A, "version_number", false)],
        ),
        (
            Mv,
            vec!["creation_timestamp"],
            vec![o(A, "creation_timestamp", true)],
        ),
        (
            Mv,
            vec![
                "last_updated_timestamp DESC",
                "name ASC",
                "version_number DESC",
            ],
            vec![
                o(A, "last_updated_timestamp", false),
                o(A, "name", true),
                o(A, "version_number", false),
            ],
        ),
        (
            Lm,
            vec!["creation_time DESC"],
            vec![o(A, "creation_timestamp", false)],
        ),
        (Lm, vec!["metrics.acc"], vec![o(M, "acc", true)]),
        (
            Lm,
            vec!["name ASC", "model_id"],
            vec![o(A, "name", true), o(A, "model_id", true)],
        ),
    ];
    let mut failures = Vec::new();
    for (kind, clauses, expected) in cases {
        match parse_order_by(kind, &strings(&clauses)) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!("{kind:?} {clauses:?}: got {got:?}")),
            Err(e) => failures.push(format!("{kind:?} {clauses:?} rejected: {}", e.message)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rejected_order_by() {
    let cases: Vec<(SearchKind, Vec<&str>, &str)> = vec![
        (
            Runs,
            vec!["start_time ASC DESC"],
            "Invalid order_by clause 'start_time ASC DESC'. Could not be parsed.",
        ),
        (
            Runs,
            vec!["start_time ASC DESC"],
            "at position 15: expected end of clause, found 'DESC'",
        ),
        (
            Runs,
            vec!["start_time DOWN"],
            "Invalid ordering key in order_by clause 'start_time DOWN'.",
        ),
        (
            Runs,
            vec![""],
            "Invalid order_by clause ''. Could not be parsed.",
        ),
        (
            Runs,
            vec!["   "],
            "Invalid order_by clause '   '. Could not be parsed.",
        ),
        (
            Runs,
            vec!["start_time,end_time"],
            "Invalid order_by clause 'start_time,end_time'. Could not be parsed.",
        ),
        (
            Runs,
            vec!["start_time;"],
            "Invalid order_by clause 'start_time;'. Could not be parsed.",
        ),
        (
            Runs,
            vec!["(start_time)"],
            "Invalid order_by clause '(start_time)'. Could not be parsed.",
        ),
        (
            Runs,
            vec!["start_time DESC NULLS LAST"],
            "Could not be parsed.",
        ),
        (
            Runs,
            vec!["metrics.a-b"],
            "Invalid order_by clause 'metrics.a-b'. Could not be parsed.",
        ),
        (
            Runs,
            vec!["'start_time'"],
            "Invalid order_by clause ''start_time''. Could not be parsed.",
        ),
        (
            Runs,
            vec!["start_time 5"],
            "Could not be parsed. (at position 11: expected ASC or DESC",
        ),
        (
            Runs,
            vec!["metrics.`a"],
            "Could not be parsed. (at position 8: unterminated",
        ),
        (
            Runs,
            vec!["start_time", "created"],
            "`order_by` contains duplicate fields: ['start_time', 'created']",
        ),
        (
            Runs,
            vec!["start_time", "start_time DESC"],
            "`order_by` contains duplicate fields: ['start_time', 'start_time DESC']",
        ),
        (
            Runs,
            vec!["metrics.a", "metrics.`a`"],
            "`order_by` contains duplicate fields",
        ),
        (
            Runs,
            vec!["foo"],
            "Invalid attribute key 'foo' specified. Valid keys are '{'run_id', ",
        ),
        (
            Runs,
            vec!["attributes.foo"],
            "Invalid attribute key 'foo' specified.",
        ),
        (
            Runs,
            vec!["name"],
            "Invalid attribute key 'name' specified.",
        ),
        (
            Runs,
            vec!["datasets.name"],
            "Invalid identifier type 'dataset'",
        ),
        (Runs, vec!["Metrics.a"], "Invalid entity type 'Metrics'."),
        (Exp, vec!["tags.a"], "Invalid order_by entity: tag"),
        (
            Exp,
            vec!["params.a"],
            "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
        (
            Exp,
            vec!["start_time"],
            "Invalid attribute key 'start_time' specified. Valid keys are '{'name', \
             'experiment_id', 'creation_time', 'last_update_time'}'",
        ),
        (
            Exp,
            vec!["start_time DOWN"],
            "Invalid ordering key in order_by clause 'start_time DOWN'.",
        ),
        (
            Rm,
            vec!["start_time"],
            "Invalid order by key 'start_time' specified. Valid keys are '{'name', 'timestamp'}'",
        ),
        (
            Rm,
            vec!["tags.a"],
            "Invalid order by key 'tags.a' specified.",
        ),
        (
            Rm,
            vec!["metrics.a DESC"],
            "Invalid order by key 'metrics.a' specified.",
        ),
        (
            Rm,
            vec!["name", "name"],
            "`order_by` contains duplicate fields: ['name', 'name']",
        ),
        (
            Rm,
            vec!["timestamp", "last_updated_timestamp"],
            "`order_by` contains duplicate fields: ['timestamp', 'last_updated_timestamp']",
        ),
        (
            Mv,
            vec!["tags.a"],
            "Invalid order by key 'a' specified. Valid keys are {'name', 'version_number', \
             'creation_timestamp', 'last_updated_timestamp'}",
        ),
        (
            Mv,
            vec!["timestamp"],
            "Invalid attribute key 'timestamp' specified.",
        ),
        (Mv, vec!["metrics.a"], "Invalid entity type 'metrics'."),
        (
            Mv,
            vec!["name", "name DESC"],
            "`order_by` contains duplicate fields: ['name', 'name DESC']",
        ),
        (
            Lm,
            vec!["params.a"],
            "Invalid order by field name: params, only `metrics.<name>` is allowed.",
        ),
        (
            Lm,
            vec!["datasets.a"],
            "Invalid order by field name: datasets, only `metrics.<name>` is allowed.",
        ),
        (Lm, vec!["foo"], "Invalid order by field name: foo."),
    ];
    let mut failures = Vec::new();
    for (kind, clauses, expected) in cases {
        match parse_order_by(kind, &strings(&clauses)) {
            Ok(got) => failures.push(format!("{kind:?} {clauses:?} accepted: {got:?}")),
            Err(e) if e.code != ErrorCode::INVALID_PARAMETER_VALUE => {
                failures.push(format!("{kind:?} {clauses:?}: code {:?}", e.code))
            }
            Err(e) if !e.message.contains(expected) => failures.push(format!(
                "{kind:?} {clauses:?}:\n  message:  {}\n  expected: {expected}",
                e.message
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn logged_model_structured_order_fields() {
    let ok = |field: &str, asc: bool| parse_logged_model_order_field(field, asc);
    assert_eq!(
        ok("metrics.my metric", true).unwrap(),
        o(M, "my metric", true)
    );
    assert_eq!(ok("metrics.a.b", false).unwrap(), o(M, "a.b", false));
    assert_eq!(
        ok("creation_time", false).unwrap(),
        o(A, "creation_timestamp", false)
    );
    assert_eq!(ok(" name ", true).unwrap(), o(A, "name", true));
    assert_eq!(
        ok("last_updated_timestamp", true).unwrap(),
        o(A, "last_updated_timestamp", true)
    );
    assert_eq!(
        ok("params.x", true).unwrap_err().message,
        "Invalid order by field name: params, only `metrics.<name>` is allowed."
    );
    assert_eq!(
        ok("foo", true).unwrap_err().message,
        "Invalid order by field name: foo."
    );
}

/// A tiny deterministic PRNG (xorshift64*), so the fuzz test needs no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const KINDS: [SearchKind; 5] = [Runs, Exp, Rm, Mv, Lm];

/// Feeds random fragments, random characters and every prefix of valid filters to
/// both parsers: each call must return (Ok or Err) without panicking.
#[test]
fn never_panics_on_garbage() {
    let fragments = [
        "metrics",
        "params",
        "tags",
        "attributes",
        "datasets",
        "run_id",
        "name",
        ".",
        "..",
        "`",
        "``",
        "'",
        "''",
        "\"",
        "\\",
        "\\'",
        "(",
        ")",
        "()",
        ",",
        ";",
        " ",
        "\t",
        "\n",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "==",
        "<>",
        "~",
        "!",
        "AND",
        "and",
        "OR",
        "NOT",
        "IN",
        "NOT IN",
        "IS",
        "NULL",
        "IS NOT NULL",
        "LIKE",
        "ILIKE",
        "-",
        "+",
        "1",
        "1.5",
        "-2e-3",
        ".5",
        "1e",
        "0x1f",
        "'x'",
        "\"y\"",
        "`z`",
        "('a', 'b')",
        "(1,",
        "é",
        "日本",
        "🦀",
        "\u{0}",
        "\u{202e}",
        "\u{feff}",
        "a",
        "_",
        "%",
        "created",
        "timestamp",
        "DESC",
        "asc",
        "version_number",
        "creation_time",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let len = rng.below(12);
        let mut input = String::new();
        for _ in 0..len {
            if rng.below(5) == 0 {
                // A random code point (surrogates are skipped by from_u32).
                let cp = (rng.next() % 0x11_0000) as u32;
                input.extend(char::from_u32(cp));
            } else {
                input.push_str(fragments[rng.below(fragments.len())]);
            }
            if rng.below(2) == 0 {
                input.push(' ');
            }
        }
        for kind in KINDS {
            let _ = parse_filter(kind, &input);
            let _ = parse_order_by(kind, &[input.clone(), "name".to_string()]);
        }
        let _ = parse_logged_model_order_field(&input, true);
    }

    let valid = [
        "metrics.a > 1 AND params.b = 'x' AND tags.`c d` LIKE '%e%'",
        "run_id IN ('a', \"b\", 'c\\'d') AND attributes.status != 'FAILED'",
        "tags.\"x.y\" IS NOT NULL AND datasets.context = 'train' AND created >= -1.5e3",
        "params.a = 'it''s' AND `Run Name` ILIKE 'é日本🦀%'",
        "version_number = '3' AND name NOT IN ('m') AND tags.k = \"v\"",
    ];
    for filter in valid {
        let chars: Vec<char> = filter.chars().collect();
        for end in 0..=chars.len() {
            let prefix: String = chars[..end].iter().collect();
            let suffix: String = chars[end..].iter().collect();
            for kind in KINDS {
                let _ = parse_filter(kind, &prefix);
                let _ = parse_filter(kind, &suffix);
                let _ = parse_order_by(kind, std::slice::from_ref(&prefix));
            }
        }
    }
}

/// Pathological inputs stay fast (no quadratic blow-up on long garbage).
#[test]
fn long_garbage_is_handled() {
    let inputs = [
        "(".repeat(50_000),
        "'".repeat(50_001),
        "`a".repeat(30_000),
        "x = ".repeat(20_000),
        "AND ".repeat(30_000),
        format!("run_id IN ({})", "'a', ".repeat(20_000)),
        "metrics.a > 1 ".repeat(10_000),
    ];
    for input in &inputs {
        for kind in KINDS {
            let _ = parse_filter(kind, input);
        }
    }
    let many = parse_filter(Runs, &"metrics.a > 1 AND ".repeat(5_000)).unwrap();
    assert_eq!(many.len(), 5_000);
}
