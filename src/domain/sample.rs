//! Realistic sample orders: the dashboard's Place Test Order button and demo data.

use crate::domain::intake::{
    AddressDraft, CustomerDraft, ItemDraft, OrderDraft, PaymentDraft, ShippingDraft,
};
use rand::seq::IndexedRandom;
use rand::Rng;

const FIRST: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Sofia", "Mateo", "Mia", "Elijah", "Amara",
    "Hiro", "Chloé", "Jonas", "Priya", "Tomás", "Ingrid", "Kwame", "Leila", "Yusuf",
];
const LAST: &[&str] = &[
    "Johnson", "García", "Müller", "Smith", "Kowalski", "Nakamura", "Rossi", "Okafor", "Dubois",
    "Novak", "Andersen", "Silva", "Patel", "Kim", "O'Brien", "Haddad",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Portland", "OR", "97205", "US"),
    ("Austin", "TX", "78701", "US"),
    ("Brooklyn", "NY", "11201", "US"),
    ("Toronto", "ON", "M5V 2T6", "CA"),
    ("Manchester", "", "M1 1AE", "GB"),
    ("Berlin", "", "10115", "DE"),
    ("Lyon", "", "69002", "FR"),
    ("Melbourne", "VIC", "3000", "AU"),
];
const STREETS: &[&str] = &[
    "Maple Avenue",
    "Oak Street",
    "Harbor Road",
    "King Street",
    "Elm Court",
    "Station Road",
    "Mill Lane",
    "Park Drive",
];
/// (sku, name, variants, price, grams)
const PRODUCTS: &[(&str, &str, &[&str], &str, u32)] = &[
    (
        "TEE-ORG",
        "Organic Cotton T-Shirt",
        &["S / White", "M / Black", "L / Navy"],
        "24.00",
        180,
    ),
    (
        "HOOD-ZIP",
        "Zip Hoodie",
        &["M / Grey", "L / Forest"],
        "59.00",
        620,
    ),
    (
        "MUG-ENM",
        "Enamel Camp Mug",
        &["Cream", "Slate"],
        "16.50",
        290,
    ),
    ("BAG-CNV", "Canvas Tote Bag", &["Natural"], "19.00", 240),
    ("CAP-WOOL", "Wool Baseball Cap", &["One size"], "32.00", 110),
    (
        "SOCK-MER",
        "Merino Hiking Socks",
        &["S", "M", "L"],
        "18.00",
        90,
    ),
    (
        "BTL-STL",
        "Steel Water Bottle",
        &["750 ml", "1 l"],
        "28.00",
        380,
    ),
    (
        "NB-DOT",
        "Dotted Notebook A5",
        &["Black", "Sand"],
        "14.00",
        260,
    ),
    ("CNDL-SOY", "Soy Candle", &["Cedar", "Fig"], "22.00", 410),
    (
        "SCRF-KNT",
        "Chunky Knit Scarf",
        &["Oat", "Rust"],
        "45.00",
        350,
    ),
];
const SHIPPING: &[(&str, &str)] = &[
    ("Standard shipping", "5.90"),
    ("Express shipping", "14.90"),
    ("Free shipping", "0.00"),
];
const METHODS: &[&str] = &[
    "card",
    "card",
    "card",
    "mobile",
    "cash_on_delivery",
    "money_transfer",
];

/// A random, realistic order as a storefront would send it.
pub fn sample_order(test: bool) -> OrderDraft {
    let mut rng = rand::rng();
    let first = FIRST.choose(&mut rng).copied().unwrap_or("Alex");
    let last = LAST.choose(&mut rng).copied().unwrap_or("Doe");
    let name = format!("{first} {last}");
    let email_user: String = format!("{first}.{last}")
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'ë' => 'e',
            'í' => 'i',
            'ó' | 'ö' => 'o',
            'ú' | 'ü' => 'u',
            other => other,
        })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let email = format!("{email_user}{}@example.com", rng.random_range(1..99));
    let (city, region, postal, country) = *CITIES.choose(&mut rng).unwrap_or(&CITIES[0]);
    let street = STREETS.choose(&mut rng).copied().unwrap_or("Main Street");
    let address = AddressDraft {
        name: name.clone(),
        line1: format!("{} {street}", rng.random_range(1..400)),
        line2: if rng.random_bool(0.3) {
            format!("Apt {}", rng.random_range(1..40))
        } else {
            String::new()
        },
        city: city.into(),
        region: region.into(),
        postal_code: postal.into(),
        country: country.into(),
    };
    let n_items = rng.random_range(1..=4);
    let mut picked: Vec<usize> = Vec::new();
    while picked.len() < n_items {
        let i = rng.random_range(0..PRODUCTS.len());
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    let items = picked
        .iter()
        .map(|&i| {
            let (sku, pname, variants, price, grams) = PRODUCTS[i];
            let variant = variants.choose(&mut rng).copied().unwrap_or("");
            ItemDraft {
                sku: format!(
                    "{sku}-{}",
                    variant
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric())
                        .take(3)
                        .collect::<String>()
                        .to_uppercase()
                ),
                name: pname.into(),
                variant: Some(variant.into()),
                unit_price: price.into(),
                quantity: rng.random_range(1..=3),
                weight_grams: Some(grams),
                image_url: None,
            }
        })
        .collect();
    let (method, price) = *SHIPPING.choose(&mut rng).unwrap_or(&SHIPPING[0]);
    let pay = METHODS.choose(&mut rng).copied().unwrap_or("card");
    OrderDraft {
        customer: CustomerDraft {
            name,
            email,
            phone: format!(
                "+1 555 {:03} {:04}",
                rng.random_range(100..999),
                rng.random_range(0..9999)
            ),
        },
        shipping_address: address,
        billing_address: None,
        items,
        shipping: ShippingDraft {
            method: method.into(),
            price: price.into(),
        },
        tax: None,
        discount: None,
        currency: None,
        payment: PaymentDraft {
            method: pay.into(),
            paid: pay == "card" && rng.random_bool(0.5),
        },
        test,
    }
}
