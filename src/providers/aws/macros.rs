//! The SDK-call helpers every resource module of the provider uses.

/// Runs one SDK call on the provider's runtime, diagnosing a failure against `address`.
macro_rules! call {
    ($provider:expr, $address:expr, $action:literal, $request:expr) => {
        $provider
            .runtime
            .block_on($request.send())
            .map_err(|e| diagnose(e, &$address.to_string(), $action, $provider.target.endpoint.as_deref()))
    };
}

/// Sets new or changed tags and removes dropped ones, with the resource type's own tag calls.
macro_rules! retag {
    ($provider:expr, $address:expr, $old:expr, $new:expr,
     $tag_action:literal => |$set:ident| $tag:expr,
     $untag_action:literal => |$keys:ident| $untag:expr) => {{
        let ($set, $keys) = tag_changes($old, $new);
        if !$set.is_empty() {
            call!($provider, $address, $tag_action, $tag)?;
        }
        if !$keys.is_empty() {
            call!($provider, $address, $untag_action, $untag)?;
        }
    }};
}
