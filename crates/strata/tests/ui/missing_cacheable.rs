// A type used with the typed shortcuts but without `#[derive(Cacheable)]`: the error says how
// to give it a kind, or how to name one.
#[derive(serde::Serialize, serde::Deserialize)]
struct Product {
    id: u64,
}

async fn lookup(cache: &strata::Cache) {
    let _ = cache.of::<Product>();
}

fn main() {
    let _ = lookup;
}
