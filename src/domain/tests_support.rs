//! Fixtures for tests in other modules.

use super::intake::NewOrderIds;
use super::*;
use uuid::Uuid;

/// A sample order (number 1001, online payment, nothing paid).
pub fn order() -> Order {
    let mut draft = crate::domain::sample::sample_order(false);
    draft.payment.method = "card".into();
    draft.payment.paid = false;
    let v = draft.validate().expect("sample is valid");
    v.build(
        &NewOrderIds {
            order_id: Uuid::now_v7(),
            number: 1001,
            customer_id: CustomerId(Uuid::now_v7()),
            item_ids: (0..v.items.len()).map(|_| Uuid::now_v7()).collect(),
            payment_id: Uuid::now_v7(),
        },
        "USD",
        chrono::Utc::now(),
        &Actor::System,
    )
}

/// A context acting as a team member.
pub fn ctx() -> Ctx {
    Ctx::new(
        chrono::Utc::now(),
        Actor::Member("Dana".into()),
        [Uuid::now_v7(), Uuid::now_v7()],
    )
}
