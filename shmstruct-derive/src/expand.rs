//! Writes the `unsafe impl SharedLayout`, its descriptor and the compile-time
//! checks that make it sound — or, when the input has mistakes, the errors
//! beside a stub impl.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, Path};

use crate::ast::{Body, Field, Input};
use crate::attr::Asserted;
use crate::ctxt::Ctxt;
use crate::valid;

/// The whole derive: parse, validate, expand.
pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let parsed = Input::from_syn(&cx, input);
    valid::check(&cx, input);
    match (cx.check(), &parsed.body) {
        (Ok(()), Some(body)) => Ok(expand(&parsed, body)),
        (Err(errors), _) => {
            let mut tokens = errors.into_compile_error();
            if input.generics.params.is_empty() {
                tokens.extend(fallback(&parsed));
            }
            Ok(tokens)
        }
        (Ok(()), None) => unreachable!("an input without a body always records an error"),
    }
}

/// The impl for a struct that passed every check.
fn expand(input: &Input, body: &Body) -> TokenStream {
    let ident = input.ident;
    let name = ident.unraw().to_string();
    let private = private(&input.attrs.krate);

    let fields = body.fields.iter().map(|field| {
        let field_name = field.ident.unraw().to_string();
        let field_ident = field.ident;
        let ty = field.ty;
        // Spanned at the field's type, so that a type that is not
        // `SharedLayout` is reported there, with the trait's explanation.
        let layout = quote_spanned! {field.ty.span()=>
            <#ty as #private::SharedLayout>::LAYOUT
        };
        quote! {
            #private::field(#field_name, ::core::mem::offset_of!(#ident, #field_ident), #layout)
        }
    });
    let packed = option(body.repr.packed());
    let repr_align = option(body.repr.align());
    let checks = checks(input, body);

    quote! {
        const _: () = {
            // SAFETY: this impl is emitted only for a non-generic struct with
            // named fields and `#[repr(C)]` (checked by the derive), so its
            // layout is fixed and the same in every process built for the
            // target. Every field's type is `SharedLayout` (the descriptor
            // names `<FieldType as SharedLayout>::LAYOUT`, which does not
            // compile otherwise), so every bit pattern of every field is
            // valid, no field holds a pointer or has drop glue, and padding
            // is never read as a value. The checks below assert at compile
            // time that the struct has no `Drop` impl of its own and that its
            // fields lie in order inside it. The descriptor's offsets, size
            // and alignment are `offset_of!`, `size_of` and `align_of`
            // themselves, so it describes exactly what the compiler laid out.
            #[automatically_derived]
            unsafe impl #private::SharedLayout for #ident {
                const LAYOUT: &'static #private::Layout = {
                    // A nested const, so that the slice is `'static`.
                    const __SHMSTRUCT_FIELDS: &[#private::Field] = &[#(#fields),*];
                    &#private::structure(
                        #name,
                        ::core::mem::size_of::<#ident>(),
                        ::core::mem::align_of::<#ident>(),
                        #packed,
                        #repr_align,
                        __SHMSTRUCT_FIELDS,
                    )
                };
            }

            #checks
        };
    }
}

/// Compile-time assertions: no drop glue, fields in order and inside the
/// struct, and the `#[shm(size, align)]` the user asked for.
fn checks(input: &Input, body: &Body) -> TokenStream {
    let ident = input.ident;
    let name = ident.unraw().to_string();
    let private = private(&input.attrs.krate);
    let mut checks = TokenStream::new();

    // A struct without its own `Drop` impl needs dropping only if a field
    // does, and no `SharedLayout` field does; so this fails exactly when the
    // struct implements `Drop` (and not because of a field whose own derive
    // failed and left a stub, which would only repeat that error).
    let no_drop = format!(
        "`{name}` implements `Drop`, but a value in shared memory is copied bit for bit and \
         never dropped: remove the `Drop` impl to derive `SharedLayout`"
    );
    let field_types = body.fields.iter().map(|field| field.ty);
    checks.extend(quote_spanned! {ident.span()=>
        const _: () = ::core::assert!(
            !::core::mem::needs_drop::<#ident>() #(|| ::core::mem::needs_drop::<#field_types>())*,
            #no_drop
        );
    });

    for field in &body.fields {
        let end = field_end(ident, field);
        let message = format!(
            "`{name}`: field `{}` does not lie inside the struct",
            field.ident.unraw()
        );
        checks.extend(quote! {
            const _: () = ::core::assert!(#end <= ::core::mem::size_of::<#ident>(), #message);
        });
    }
    for pair in body.fields.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let before_end = field_end(ident, before);
        let after_ident = after.ident;
        let message = format!(
            "`{name}`: field `{}` does not come after field `{}` in memory",
            after.ident.unraw(),
            before.ident.unraw()
        );
        checks.extend(quote! {
            const _: () = ::core::assert!(
                #before_end <= ::core::mem::offset_of!(#ident, #after_ident),
                #message
            );
        });
    }

    if let Some(size) = &input.attrs.size {
        checks.extend(asserted(
            ident,
            &private,
            size,
            quote!(assert_size),
            quote!(size_of),
        ));
    }
    if let Some(align) = &input.attrs.align {
        checks.extend(asserted(
            ident,
            &private,
            align,
            quote!(assert_align),
            quote!(align_of),
        ));
    }
    checks
}

/// `offset_of!(T, field) + size_of::<FieldType>()`.
fn field_end(ident: &Ident, field: &Field) -> TokenStream {
    let field_ident = field.ident;
    let ty = field.ty;
    quote! {
        (::core::mem::offset_of!(#ident, #field_ident) + ::core::mem::size_of::<#ty>())
    }
}

/// `#[shm(size = N)]` or `#[shm(align = N)]` as a trait bound whose
/// `on_unimplemented` message shows the struct, `N` and the actual number,
/// reported at the literal `N`.
fn asserted(
    ident: &Ident,
    private: &TokenStream,
    asserted: &Asserted,
    function: TokenStream,
    measure: TokenStream,
) -> TokenStream {
    let span = asserted.lit.span();
    let mut at_literal = ident.clone();
    at_literal.set_span(span);
    let expected = Literal::usize_unsuffixed(asserted.value);
    quote_spanned! {span=>
        const _: () = #private::#function::<
            #at_literal,
            { ::core::mem::#measure::<#ident>() },
            #expected,
        >();
    }
}

/// Emitted beside the errors: an impl with an empty descriptor, so that the
/// type's other uses (as a field elsewhere, in a `Value<T>`) compile and one
/// mistake does not cascade into unrelated errors. It never reaches a built
/// crate, because the errors beside it stop the build.
fn fallback(input: &Input) -> TokenStream {
    let ident = input.ident;
    let name = ident.unraw().to_string();
    let private = private(&input.attrs.krate);
    quote! {
        const _: () = {
            // SAFETY: never compiled into a program: this stub is emitted only
            // together with `compile_error!`, which fails the build.
            #[automatically_derived]
            unsafe impl #private::SharedLayout for #ident {
                const LAYOUT: &'static #private::Layout = &#private::structure(
                    #name,
                    0,
                    1,
                    ::core::option::Option::None,
                    ::core::option::Option::None,
                    &[],
                );
            }
        };
    }
}

/// `path::__private`, where the expansion's helpers live.
fn private(krate: &Path) -> TokenStream {
    quote!(#krate::__private)
}

/// `Some(n)` or `None`, with absolute paths.
fn option(value: Option<usize>) -> TokenStream {
    match value {
        Some(n) => {
            let n = Literal::usize_unsuffixed(n);
            quote!(::core::option::Option::Some(#n))
        }
        None => quote!(::core::option::Option::None),
    }
}
