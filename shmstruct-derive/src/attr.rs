//! `#[shm(...)]`: the derive's own attribute. Keys are constants; unknown and
//! duplicate keys and bad values are errors.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Lit, LitInt, LitStr, Path};

use crate::ctxt::Ctxt;

/// The attribute's name.
pub const SHM: &str = "shm";
/// `size = N`: assert `size_of::<T>() == N`.
pub const SIZE: &str = "size";
/// `align = N`: assert `align_of::<T>() == N`.
pub const ALIGN: &str = "align";
/// `crate = "path"`: where shmstruct is, for crates that re-export it.
pub const CRATE: &str = "crate";

/// The `#[shm(...)]` settings of one struct.
pub struct Attrs {
    /// The asserted size, if any.
    pub size: Option<Asserted>,
    /// The asserted alignment, if any.
    pub align: Option<Asserted>,
    /// The path to the shmstruct crate; `::shmstruct` unless overridden.
    pub krate: Path,
}

/// A number asserted by `#[shm(...)]`, with its literal for error spans.
pub struct Asserted {
    pub value: usize,
    pub lit: LitInt,
}

/// Reads every `#[shm(...)]` in `attrs`.
pub fn parse(cx: &Ctxt, attrs: &[Attribute]) -> Attrs {
    let mut size = None;
    let mut align = None;
    let mut krate = None;

    for attr in attrs.iter().filter(|attr| attr.path().is_ident(SHM)) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string);
            match key.as_deref() {
                Some(SIZE) => {
                    let Some(value) = value(cx, &meta, SIZE)? else {
                        return Ok(());
                    };
                    if let Some(asserted) = number(cx, SIZE, &value) {
                        set(cx, &meta.path, SIZE, &mut size, asserted);
                    }
                }
                Some(ALIGN) => {
                    let Some(value) = value(cx, &meta, ALIGN)? else {
                        return Ok(());
                    };
                    if let Some(asserted) = number(cx, ALIGN, &value) {
                        if asserted.value.is_power_of_two() {
                            set(cx, &meta.path, ALIGN, &mut align, asserted);
                        } else {
                            cx.error_spanned_by(
                                &asserted.lit,
                                "`align` must be a power of two, e.g. #[shm(align = 8)]",
                            );
                        }
                    }
                }
                Some(CRATE) => {
                    let Some(value) = value(cx, &meta, CRATE)? else {
                        return Ok(());
                    };
                    if let Some(path) = crate_path(cx, &value) {
                        set(cx, &meta.path, CRATE, &mut krate, path);
                    }
                }
                _ => {
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "unknown key `{}` in #[shm(...)]: expected `{SIZE}`, `{ALIGN}` or `{CRATE}`, \
                             e.g. #[shm(size = 16, align = 8)]",
                            quote::ToTokens::to_token_stream(&meta.path).to_string().replace(' ', ""),
                        ),
                    );
                    // Skip its value so that the keys after it are read too.
                    if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse::<Expr>()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        let _content;
                        syn::parenthesized!(_content in meta.input);
                    }
                }
            }
            Ok(())
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
    }

    Attrs {
        size,
        align,
        krate: krate.unwrap_or_else(|| syn::parse_quote!(::shmstruct)),
    }
}

/// The `= value` after `key`; an error, and `None`, when it is missing.
fn value(cx: &Ctxt, meta: &ParseNestedMeta, key: &str) -> syn::Result<Option<Expr>> {
    if meta.input.peek(syn::Token![=]) {
        return Ok(Some(meta.value()?.parse::<Expr>()?));
    }
    let example = if key == CRATE {
        "\"my_crate::shmstruct\""
    } else {
        "16"
    };
    cx.error_spanned_by(
        &meta.path,
        format!("`{key}` needs a value, e.g. #[shm({key} = {example})]"),
    );
    if meta.input.peek(syn::token::Paren) {
        let _arguments;
        syn::parenthesized!(_arguments in meta.input);
    }
    Ok(None)
}

/// Stores the first value of `key`; a second one is an error.
fn set<T>(cx: &Ctxt, path: &Path, key: &str, slot: &mut Option<T>, value: T) {
    if slot.is_some() {
        cx.error_spanned_by(
            path,
            format!("duplicate `{key}` in #[shm(...)]: give it once"),
        );
    } else {
        *slot = Some(value);
    }
}

/// An integer literal that fits a `usize`.
fn number(cx: &Ctxt, key: &str, value: &Expr) -> Option<Asserted> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    }) = value
    {
        match lit.base10_parse::<usize>() {
            Ok(value) => {
                return Some(Asserted {
                    value,
                    lit: lit.clone(),
                })
            }
            Err(error) => {
                cx.syn_error(error);
                return None;
            }
        }
    }
    cx.error_spanned_by(
        value,
        format!("`{key}` takes a number of bytes, e.g. #[shm({key} = 16)]"),
    );
    None
}

/// A path written as a string: `crate = "my_crate::shmstruct"`.
fn crate_path(cx: &Ctxt, value: &Expr) -> Option<Path> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    {
        return match lit.parse::<Path>() {
            Ok(path) => Some(path),
            Err(_) => {
                bad_crate(cx, lit);
                None
            }
        };
    }
    cx.error_spanned_by(
        value,
        format!("`{CRATE}` takes a path in quotes, e.g. #[shm({CRATE} = \"my_crate::shmstruct\")]"),
    );
    None
}

fn bad_crate(cx: &Ctxt, lit: &LitStr) {
    cx.error_spanned_by(
        lit,
        format!(
            "`{}` is not a path: `{CRATE}` takes a path in quotes, e.g. #[shm({CRATE} = \"my_crate::shmstruct\")]",
            lit.value()
        ),
    );
}
