//! `#[repr(...)]`, parsed into a [`Repr`] that can only hold layouts the
//! derive supports: `C`, optionally with `packed`, `packed(N)` or `align(N)`.

use syn::{Attribute, Ident, LitInt};

use crate::ctxt::Ctxt;

/// A supported representation: always `repr(C)`, with at most one modifier.
pub struct Repr {
    modifier: Option<Modifier>,
}

/// What may accompany `C`; packed and aligned at once is not a state.
#[derive(Clone, Copy)]
enum Modifier {
    /// `packed` (= `packed(1)`) or `packed(N)`: ctypes' `_pack_`.
    Packed(usize),
    /// `align(N)`: ctypes' `_align_`.
    Align(usize),
}

impl Repr {
    /// `Some(n)` for `packed(n)`.
    pub fn packed(&self) -> Option<usize> {
        match self.modifier {
            Some(Modifier::Packed(n)) => Some(n),
            _ => None,
        }
    }

    /// `Some(n)` for `align(n)`.
    pub fn align(&self) -> Option<usize> {
        match self.modifier {
            Some(Modifier::Align(n)) => Some(n),
            _ => None,
        }
    }
}

/// Reads every `#[repr(...)]` on the struct named `ident`. Records an error
/// for each unsupported or conflicting hint and returns `None` then.
pub fn parse(cx: &Ctxt, attrs: &[Attribute], ident: &Ident) -> Option<Repr> {
    let mut c = false;
    let mut modifier: Option<(Modifier, String)> = None;
    let mut first_repr: Option<&Attribute> = None;
    let mut hints: Vec<String> = Vec::new();
    let mut ok = true;

    for attr in attrs.iter().filter(|attr| attr.path().is_ident("repr")) {
        first_repr.get_or_insert(attr);
        let parsed = attr.parse_nested_meta(|meta| {
            let Some(hint) = meta.path.get_ident().map(Ident::to_string) else {
                ok = false;
                cx.error_spanned_by(&meta.path, "unsupported `repr` hint");
                return Ok(());
            };
            let this = match hint.as_str() {
                "C" => {
                    c = true;
                    return Ok(());
                }
                "packed" => {
                    let n = if meta.input.peek(syn::token::Paren) {
                        let content;
                        syn::parenthesized!(content in meta.input);
                        content.parse::<LitInt>()?.base10_parse::<usize>()?
                    } else {
                        1
                    };
                    let text = if n == 1 {
                        "packed".to_owned()
                    } else {
                        format!("packed({n})")
                    };
                    (Modifier::Packed(n), text)
                }
                "align" => {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let n = content.parse::<LitInt>()?.base10_parse::<usize>()?;
                    (Modifier::Align(n), format!("align({n})"))
                }
                other => {
                    ok = false;
                    unsupported(cx, &meta.path, other);
                    // Skip the hint's arguments, if any, to read the next hint.
                    if meta.input.peek(syn::token::Paren) {
                        let _arguments;
                        syn::parenthesized!(_arguments in meta.input);
                    }
                    return Ok(());
                }
            };
            if let Some((_, previous)) = &modifier {
                ok = false;
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "`{}` conflicts with `{previous}`: a shared struct takes at most one of \
                         `packed`, `packed(N)` and `align(N)`; keep one",
                        this.1
                    ),
                );
            } else {
                hints.push(this.1.clone());
                modifier = Some(this);
            }
            Ok(())
        });
        if let Err(error) = parsed {
            ok = false;
            cx.syn_error(error);
        }
    }

    // Non-power-of-two `packed(N)`/`align(N)` are left to rustc, which
    // rejects them on every struct with its own clear message.
    if !c && ok {
        ok = false;
        match first_repr {
            Some(attr) => cx.error_spanned_by(
                attr,
                format!(
                    "`#[derive(SharedLayout)]` needs `C` in the repr: write `#[repr(C, {})]`, \
                     so that the fields stay in declaration order at fixed offsets",
                    hints.join(", ")
                ),
            ),
            None => cx.syn_error(syn::Error::new(
                ident.span(),
                format!(
                    "`#[derive(SharedLayout)]` needs `#[repr(C)]` on `{ident}`: without it Rust \
                     may reorder the fields, and other processes could not know the layout"
                ),
            )),
        }
    }
    ok.then(|| Repr {
        modifier: modifier.map(|(modifier, _)| modifier),
    })
}

/// Records why `hint` cannot be used, and what to use instead.
fn unsupported(cx: &Ctxt, path: &syn::Path, hint: &str) {
    let message = match hint {
        "Rust" => "`#[repr(Rust)]` lets the compiler reorder the fields, so other processes \
                   cannot know the layout; use `#[repr(C)]`"
            .to_owned(),
        "transparent" => "`#[repr(transparent)]` is not supported by `#[derive(SharedLayout)]`; \
                          use `#[repr(C)]` (a one-field `#[repr(C)]` struct has the same layout)"
            .to_owned(),
        other => format!(
            "`#[repr({other})]` is not supported by `#[derive(SharedLayout)]`; use `#[repr(C)]`, \
             optionally with `packed`, `packed(N)` or `align(N)`"
        ),
    };
    cx.error_spanned_by(path, message);
}
