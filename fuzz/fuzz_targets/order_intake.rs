//! Fuzzes order intake parsing: any bytes → JSON `OrderDraft` → validation → a built order.
//! Nothing may panic, and an accepted order's money must add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orderdeck::domain::intake::{NewOrderIds, OrderDraft};
use orderdeck::domain::{Actor, CustomerId};

fuzz_target!(|data: &[u8]| {
    let Ok(draft) = serde_json::from_slice::<OrderDraft>(data) else {
        return;
    };
    let Ok(valid) = draft.validate() else {
        return;
    };
    let ids = NewOrderIds {
        order_id: uuid::Uuid::nil(),
        number: 1001,
        customer_id: CustomerId(uuid::Uuid::nil()),
        item_ids: vec![uuid::Uuid::nil(); valid.items.len()],
        payment_id: uuid::Uuid::nil(),
    };
    let order = valid.build(&ids, "USD", chrono::Utc::now(), &Actor::System);
    assert_eq!(
        order.total,
        order.subtotal() + order.shipping.price + order.tax - order.discount
    );
    assert!(order.total >= rust_decimal::Decimal::ZERO);
    assert!(order.paid() <= order.total);
    let _ = order.payment_status();
    let _ = order.fulfillment_status();
});
