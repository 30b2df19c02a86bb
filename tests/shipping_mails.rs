//! Shipping mails with the default notification scripts: every shipment event (created, edited
//! with "notify customer", canceled or voided, each carrier status) brings the customer exactly
//! one message about that shipment, worded after what is left to ship.

use orderdeck::domain::intake::ItemDraft;
use orderdeck::domain::outbox::Channel;
use orderdeck::domain::workflow::{
    CarrierFulfillInput, ManualFulfillInput, RefundInput, ShipmentEdit,
};
use orderdeck::domain::{Actor, Command, ItemQty, Order, ShipmentStatus, ShippingPoint};
use orderdeck::scripting::ScriptRegistry;
use orderdeck::service::Service;
use orderdeck::store::sled::SledStore;
use std::sync::Arc;

struct Shop {
    svc: Service,
    _dir: tempfile::TempDir,
    /// Customer e-mails already looked at.
    seen: usize,
}

fn item(sku: &str, name: &str, quantity: u32) -> ItemDraft {
    ItemDraft {
        sku: sku.into(),
        name: name.into(),
        variant: None,
        unit_price: "10.00".into(),
        quantity,
        weight_grams: Some(300),
        image_url: None,
    }
}

impl Shop {
    fn new() -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let scripts = Arc::new(ScriptRegistry::load(None).unwrap());
        Shop {
            svc: Service::new(store).with_scripts(scripts, None),
            _dir: dir,
            seen: 0,
        }
    }

    /// A paid order of two mugs and one tote.
    async fn order(&mut self) -> Order {
        let mut d = orderdeck::domain::sample::sample_order(false);
        d.items = vec![item("MUG", "Camp Mug", 2), item("TOTE", "Canvas Tote", 1)];
        d.payment.method = "card".into();
        d.payment.paid = true;
        let (order, _) = self
            .svc
            .place_order(&d, Actor::Token("shop".into()), None)
            .await
            .unwrap();
        self.news(&order).await; // the confirmation
        order
    }

    async fn act(&self, order: &Order, cmd: Command) -> Order {
        self.svc
            .act(order.number, cmd, Actor::Member("Dana".into()))
            .await
            .unwrap()
    }

    /// The customer e-mails `(event, subject, text)` written since the last call, oldest first.
    async fn news(&mut self, order: &Order) -> Vec<(String, String, String)> {
        let mut all: Vec<_> = self
            .svc
            .outbox(Some(order.number), None, 500)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.channel == Channel::Email && m.to == order.customer.email)
            .collect();
        all.sort_by_key(|m| m.id);
        let out = all[self.seen..]
            .iter()
            .map(|m| (m.event.clone(), m.subject.clone(), m.text.clone()))
            .collect();
        self.seen = all.len();
        out
    }

    /// Exactly one new customer e-mail, of `event`, whose subject contains `subject`.
    async fn one(&mut self, order: &Order, event: &str, subject: &str) -> String {
        let news = self.news(order).await;
        assert_eq!(news.len(), 1, "expected one message, got {news:#?}");
        let (e, s, text) = &news[0];
        assert_eq!(e, event, "{s}");
        assert!(s.contains(subject), "{s:?} should say {subject:?}");
        text.clone()
    }
}

fn manual(items: Vec<ItemQty>) -> Command {
    Command::ManualFulfill(ManualFulfillInput {
        items,
        shipping_point: ShippingPoint::Local,
        carrier: Some("Parcel Co".into()),
        tracking_number: Some("PC1".into()),
    })
}

fn qty(order: &Order, i: usize, quantity: u32) -> ItemQty {
    ItemQty {
        item_id: order.items[i].id,
        quantity,
    }
}

#[tokio::test]
async fn two_manual_shipments_then_canceling_the_second_tells_of_that_shipment() {
    let mut shop = Shop::new();
    let order = shop.order().await;

    let order = shop.act(&order, manual(vec![qty(&order, 0, 2)])).await;
    let text = shop
        .one(&order, "fulfillment_status_changed", "Part of your order")
        .await;
    assert!(text.contains("2 × Camp Mug"), "{text}");
    assert!(text.contains("the rest follows"), "{text}");

    let order = shop.act(&order, manual(vec![qty(&order, 1, 1)])).await;
    let text = shop
        .one(
            &order,
            "fulfillment_status_changed",
            "The rest of your order",
        )
        .await;
    assert!(text.contains("1 × Canvas Tote"), "{text}");
    assert!(!text.contains("Camp Mug"), "{text}");

    // Canceling the second shipment speaks of it, not of the first one's parcel.
    let second = order.shipments[1].id;
    let order = shop
        .act(
            &order,
            Command::VoidShipment {
                shipment_id: second,
            },
        )
        .await;
    let text = shop
        .one(&order, "fulfillment_status_changed", "was canceled")
        .await;
    assert!(text.contains("1 × Canvas Tote"), "{text}");
    assert!(!text.contains("Camp Mug"), "{text}");
    assert!(text.contains("when the items ship") || text.contains("when they ship"));

    // Shipping it again: the order is complete.
    let order = shop.act(&order, manual(vec![qty(&order, 1, 1)])).await;
    shop.one(
        &order,
        "fulfillment_status_changed",
        "The rest of your order",
    )
    .await;

    // An edit without "notify customer" tells nothing; with it, one message.
    let third = order.shipments[2].id;
    let edit = |notify| Command::EditShipment {
        shipment_id: third,
        edit: ShipmentEdit {
            tracking_number: Some(if notify { "PC3" } else { "PC2" }.into()),
            notify_customer: notify,
            ..ShipmentEdit::default()
        },
    };
    let order = shop.act(&order, edit(false)).await;
    assert!(shop.news(&order).await.is_empty());
    let order = shop.act(&order, edit(true)).await;
    let text = shop
        .one(&order, "shipment_updated", "Tracking details")
        .await;
    assert!(text.contains("PC3"), "{text}");

    // Canceling through the edit form with "notify customer": one message, about the cancel.
    let order = shop
        .act(
            &order,
            Command::EditShipment {
                shipment_id: third,
                edit: ShipmentEdit {
                    status: Some(ShipmentStatus::Canceled),
                    notify_customer: true,
                    ..ShipmentEdit::default()
                },
            },
        )
        .await;
    shop.one(&order, "shipment_updated", "was canceled").await;
}

#[tokio::test]
async fn a_voided_label_and_each_carrier_status_bring_one_message_each() {
    let mut shop = Shop::new();
    let order = shop.order().await;
    let label = |order: &Order, tracking: &str| {
        Command::CarrierFulfill(CarrierFulfillInput {
            items: vec![qty(order, 0, 2), qty(order, 1, 1)],
            shipping_point: ShippingPoint::Local,
            carrier: "National Post".into(),
            service: "standard".into(),
            tracking_number: tracking.into(),
            tracking_url: Some(format!("https://track.example/{tracking}")),
            expected_delivery: None,
            price: "7.50".parse().unwrap(),
            label: Default::default(),
        })
    };
    let order = shop.act(&order, label(&order, "NP1")).await;
    shop.one(&order, "fulfillment_status_changed", "Your order #")
        .await;

    // Voiding the label tells the customer (it used to send nothing).
    let first = order.shipments[0].id;
    let order = shop
        .act(&order, Command::VoidShipment { shipment_id: first })
        .await;
    let text = shop
        .one(&order, "fulfillment_status_changed", "was canceled")
        .await;
    assert!(text.contains("2 × Camp Mug"), "{text}");

    let order = shop.act(&order, label(&order, "NP2")).await;
    shop.one(&order, "fulfillment_status_changed", "on its way")
        .await;
    let second = order.shipments[1].id;
    let mut order = order;
    for (status, subject) in [
        (ShipmentStatus::InTransit, "in transit"),
        (ShipmentStatus::OutForDelivery, "out for delivery"),
        // The delivery also makes the order delivered: still one message.
        (ShipmentStatus::Delivered, "has been delivered"),
    ] {
        order = shop
            .act(
                &order,
                Command::CarrierEvent {
                    shipment_id: second,
                    status,
                    at: None,
                },
            )
            .await;
        shop.one(&order, "shipment_updated", subject).await;
    }
}

#[tokio::test]
async fn when_the_rest_was_refunded_the_shipment_completes_the_order() {
    let mut shop = Shop::new();
    let order = shop.order().await;
    // The tote is refunded before it ships: shipping the mugs completes the order.
    let order = shop
        .act(
            &order,
            Command::Refund(RefundInput {
                items: vec![qty(&order, 1, 1)],
                ..RefundInput::default()
            }),
        )
        .await;
    shop.one(&order, "payment_status_changed", "refund").await;
    let order = shop.act(&order, manual(vec![qty(&order, 0, 2)])).await;
    let text = shop
        .one(&order, "fulfillment_status_changed", "Your order #")
        .await;
    assert!(!text.contains("the rest follows"), "{text}");
    assert!(text.contains("on its way"), "{text}");
}
