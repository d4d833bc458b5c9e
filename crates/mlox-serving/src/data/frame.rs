//! Tables as pandas makes them: named columns of equal length.

use serde_json::Value;

use super::{Elems, Tensor};
use crate::error::{Result, ServeError};

/// A pandas DataFrame: named 1-D columns of equal length.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub columns: Vec<(String, Elems)>,
    pub rows: usize,
}

impl Frame {
    pub(super) fn from_rows(columns: Vec<String>, rows: Vec<Vec<Value>>) -> Result<Frame> {
        let n = rows.len();
        let mut cols: Vec<Vec<Value>> = vec![Vec::with_capacity(n); columns.len()];
        for row in rows {
            if row.len() != columns.len() {
                return Err(ServeError::BadRequest(format!(
                    "Invalid input. {} columns passed, passed data had {} columns",
                    columns.len(),
                    row.len()
                )));
            }
            for (c, v) in cols.iter_mut().zip(row) {
                c.push(v);
            }
        }
        Ok(Frame {
            columns: columns
                .into_iter()
                .zip(cols)
                .map(|(name, vals)| (name, Elems::infer(vals)))
                .collect(),
            rows: n,
        })
    }

    /// `df.values`: a 2-D array of the columns' common dtype.
    pub fn values(&self) -> Tensor {
        let width = self.columns.len();
        let parts: Vec<Elems> = self.columns.iter().map(|(_, e)| e.clone()).collect();
        // Interleave column-major storage into rows.
        let col_vals: Vec<Elems> = parts;
        let common = Elems::concat(col_vals.clone());
        let flat_cols = common;
        // `flat_cols` is column-major: transpose into row-major.
        let rows = self.rows;
        let transpose = |get: &dyn Fn(usize) -> Value| {
            let mut out = Vec::with_capacity(rows * width);
            for r in 0..rows {
                for c in 0..width {
                    out.push(get(c * rows + r));
                }
            }
            out
        };
        let elems = match flat_cols {
            Elems::F64(v) => Elems::F64(row_major(&v, rows, width)),
            Elems::F32(v) => Elems::F32(row_major(&v, rows, width)),
            Elems::I64(v) => Elems::I64(row_major(&v, rows, width)),
            Elems::Bool(v) => Elems::Bool(row_major(&v, rows, width)),
            Elems::Str(v) => Elems::Str(row_major(&v, rows, width)),
            Elems::Obj(v) => Elems::Obj(transpose(&|i| v[i].clone())),
        };
        Tensor {
            shape: vec![rows, width],
            elems,
        }
    }
}

fn row_major<T: Clone>(col_major: &[T], rows: usize, width: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(rows * width);
    for r in 0..rows {
        for c in 0..width {
            out.push(col_major[c * rows + r].clone());
        }
    }
    out
}
