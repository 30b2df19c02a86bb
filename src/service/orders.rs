//! Order use cases: intake, the actions (previewed, then applied once against the version that
//! was previewed), carrier tracking events, customers, lists and counts.

use super::settings::{StoreSettings, Switches};
use super::webhooks::endpoints_of;
use super::{Service, ServiceError};
use crate::domain::intake::{NewOrderIds, OrderDraft};
use crate::domain::notifications::{triggers, Trigger};
use crate::domain::workflow::{decide, execute};
use crate::domain::{
    Actor, Command, Ctx, CustomerId, CustomerSnapshot, Event, Order, RuleError, ShipmentId,
};
use crate::ports::{
    Conflict, Counts, Created, CustomerRecord, ListPage, ListQuery, NewOrder, StoreError,
};
use chrono::Utc;
use uuid::Uuid;

/// What a command would do to an order as it stands: the events it would apply, or the rule
/// that refuses it.
pub type Outcome = Result<Vec<Event>, RuleError>;

/// Asks the rules what commands would do, writing nothing: a page's review step (whose confirm
/// step then applies the command to the same order, see [`Service::apply`]) and the order page's
/// buttons, disabled with the rule's reason when it refuses.
#[derive(Debug, Clone)]
pub struct Probe {
    ctx: Ctx,
}

impl Probe {
    /// What `cmd` would do to `order`.
    pub fn decide(&self, order: &Order, cmd: &Command) -> Outcome {
        decide(order, cmd, &self.ctx)
    }

    /// The context the rules are asked in.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// The rule that refuses `cmd` on `order` now, if any.
    pub fn refusal(&self, order: &Order, cmd: &Command) -> Option<RuleError> {
        self.decide(order, cmd).err()
    }
}

fn fresh_ctx(actor: Actor) -> Ctx {
    Ctx::new(Utc::now(), actor, [Uuid::now_v7(), Uuid::now_v7()])
}

impl Service {
    /// Order intake (API). Returns the order and whether it is a replay of an earlier request
    /// with the same idempotency key.
    pub async fn place_order(
        &self,
        draft: &OrderDraft,
        actor: Actor,
        idempotency: Option<(String, [u8; 32])>,
    ) -> Result<(Order, bool), ServiceError> {
        self.intake(draft, actor, idempotency, false).await
    }

    /// The dashboard's Place Test Order: a realistic sample, allowed until a real order exists.
    pub async fn place_test_order(&self, actor: Actor) -> Result<Order, ServiceError> {
        let draft = crate::domain::sample::sample_order(true);
        Ok(self.intake(&draft, actor, None, true).await?.0)
    }

    /// Stores a new order with its `order_placed` messages.
    async fn intake(
        &self,
        draft: &OrderDraft,
        actor: Actor,
        idempotency: Option<(String, [u8; 32])>,
        only_before_real_orders: bool,
    ) -> Result<(Order, bool), ServiceError> {
        let valid = draft.validate()?;
        // A replay or a refused test order takes no number.
        if let Some((key, hash)) = &idempotency {
            if let Some((number, first)) = self.store.idempotency_key(key).await? {
                if first != *hash {
                    return Err(StoreError::Conflict(Conflict::IdempotencyKey).into());
                }
                return Ok((self.store.get_order(number).await?, true));
            }
        }
        if only_before_real_orders && !self.test_orders_allowed().await? {
            return Err(RuleError::TestOrdersClosed.into());
        }
        let all = self.settings_snapshot().await?;
        let settings = StoreSettings::from_map(&all);
        let switches = Switches::from_map(&all);
        let (number, customer) = self
            .store
            .number_and_customer(&valid.customer_email, &valid.customer_phone)
            .await?;
        let now = Utc::now();
        let ids = NewOrderIds {
            order_id: Uuid::now_v7(),
            number,
            customer_id: customer
                .as_ref()
                .map_or_else(|| CustomerId(Uuid::now_v7()), |c| c.id),
            item_ids: (0..valid.items.len()).map(|_| Uuid::now_v7()).collect(),
            payment_id: Uuid::now_v7(),
        };
        let order = valid.build(&ids, &settings.currency, now, &actor);
        let placed = [Trigger {
            event: "order_placed",
            shipment: None,
        }];
        // Rendered on a copy: a template that fails leaves a failed message, not a timeline line,
        // on a new order.
        let mut outbox = self.messages(&mut order.clone(), &placed, &settings, &switches, now);
        outbox.extend(self.webhook_messages(&endpoints_of(&all), None, &order, &[], now));
        let queued = !outbox.is_empty();
        let created = self
            .store
            .insert_order(&NewOrder {
                order,
                outbox,
                idempotency,
                customer,
                only_before_real_orders,
            })
            .await?;
        Ok(match created {
            Created::New(o) => {
                if queued {
                    self.wake.notify_one();
                }
                (o, false)
            }
            Created::Replayed(o) => (o, true),
        })
    }

    /// Whether the Place Test Order button is offered (no real order yet).
    pub async fn test_orders_allowed(&self) -> Result<bool, ServiceError> {
        Ok(self.store.counts().await?.real == 0)
    }

    /// One order.
    pub async fn order(&self, number: u64) -> Result<Order, ServiceError> {
        Ok(self.store.get_order(number).await?)
    }

    /// A probe for `actor`: what commands would do now, without writing.
    pub fn probe(&self, actor: Actor) -> Probe {
        Probe {
            ctx: fresh_ctx(actor),
        }
    }

    /// Runs one action on an order: the domain decides, the store applies atomically.
    pub async fn act(
        &self,
        number: u64,
        cmd: Command,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let order = self.order(number).await?;
        self.apply(order, &cmd, actor).await
    }

    /// Applies `cmd` to `order` as the caller read it: decided on that version and written only
    /// if the stored order still has it. When it has moved on (a concurrent action), the order
    /// is read again and the command decided again on what is stored now, so nothing is lost
    /// and no rule is skipped.
    pub async fn apply(
        &self,
        order: Order,
        cmd: &Command,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let ctx = fresh_ctx(actor);
        let all = self.settings_snapshot().await?;
        let settings = StoreSettings::from_map(&all);
        let switches = Switches::from_map(&all);
        let endpoints = endpoints_of(&all);
        let mut current = order;
        loop {
            let (mut next, events) = execute(&current, cmd, &ctx)?;
            if events.is_empty() {
                // Nothing happened (a tag already there): nothing to write or tell anyone.
                return Ok(current);
            }
            let list = triggers(&current, &next, &events);
            let mut outbox = self.messages(&mut next, &list, &settings, &switches, ctx.now);
            outbox.extend(self.webhook_messages(
                &endpoints,
                Some(&current),
                &next,
                &events,
                ctx.now,
            ));
            match self
                .store
                .update_order(current.version, &next, &outbox)
                .await
            {
                Ok(()) => {
                    if !outbox.is_empty() {
                        self.wake.notify_one();
                    }
                    return Ok(next);
                }
                Err(StoreError::Conflict(Conflict::Version { .. })) => {
                    current = self.store.get_order(current.number).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A carrier's tracking update, found by carrier and tracking number
    /// (`POST /carriers/{carrier}/events`).
    pub async fn carrier_event(
        &self,
        carrier: &str,
        tracking_number: &str,
        status: crate::domain::ShipmentStatus,
        at: Option<chrono::DateTime<Utc>>,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let tracking = tracking_number.trim();
        if tracking.is_empty() {
            return Err(RuleError::invalid("tracking_number", "is required").into());
        }
        for number in self.store.orders_with_term(tracking, 20).await? {
            let order = self.store.get_order(number).await?;
            let found = order.shipments.iter().find(|s| {
                s.kind == crate::domain::ShipmentKind::Carrier
                    && s.carrier.as_deref() == Some(carrier)
                    && s.tracking_number.as_deref() == Some(tracking)
            });
            if let Some(s) = found {
                let cmd = Command::CarrierEvent {
                    shipment_id: s.id,
                    status,
                    at,
                };
                return self.apply(order, &cmd, actor).await;
            }
        }
        Err(ServiceError::NotFound(format!(
            "No {carrier} shipment with tracking number {tracking}"
        )))
    }

    /// Test orders only: moves a carrier shipment one step along its delivery, as the carrier
    /// would (recorded as the carrier's simulated tracking, like a real tracking event), so a
    /// merchant can watch the statuses and messages of a whole delivery.
    pub async fn simulate_carrier_event(
        &self,
        number: u64,
        shipment_id: ShipmentId,
    ) -> Result<Order, ServiceError> {
        use crate::domain::ShipmentStatus::*;
        let order = self.store.get_order(number).await?;
        if !order.test {
            return Err(ServiceError::Refused {
                code: "not_a_test_order",
                message: "Carrier events can only be simulated on test orders".into(),
            });
        }
        let s = order
            .shipment(shipment_id)
            .ok_or_else(|| RuleError::ShipmentNotFound {
                id: shipment_id.to_string(),
            })?;
        let next = match s.status {
            AwaitingShipment => Shipped,
            Shipped => InTransit,
            InTransit | DeliveryFailed => OutForDelivery,
            OutForDelivery => Delivered,
            Delivered | Canceled => {
                return Err(RuleError::ShipmentFinal {
                    status: s.status.label(),
                }
                .into())
            }
        };
        let carrier = s.carrier.clone().unwrap_or_default();
        let cmd = Command::CarrierEvent {
            shipment_id,
            status: next,
            at: None,
        };
        let actor = Actor::Token(format!("{carrier} tracking (simulated)"));
        self.apply(order, &cmd, actor).await
    }

    /// The Change customer command: the snapshot comes from the customer record.
    pub async fn change_customer_command(
        &self,
        customer_id: CustomerId,
    ) -> Result<Command, ServiceError> {
        let c = self.store.customer(customer_id).await?;
        Ok(Command::ChangeCustomer {
            customer: CustomerSnapshot {
                id: c.id,
                name: c.name,
                email: c.email,
                phone: c.phone,
            },
        })
    }

    /// Change customer.
    pub async fn change_customer(
        &self,
        number: u64,
        customer_id: CustomerId,
        actor: Actor,
    ) -> Result<Order, ServiceError> {
        let cmd = self.change_customer_command(customer_id).await?;
        self.act(number, cmd, actor).await
    }

    /// A page of orders.
    pub async fn list(&self, q: &ListQuery) -> Result<ListPage, ServiceError> {
        Ok(self.store.list_orders(q).await?)
    }

    /// The numbers of the orders `q` matches in date order (its sort and cursor do not
    /// matter); `None` when there are more than `cap`.
    pub(super) async fn numbers_matching(
        &self,
        q: &ListQuery,
        cap: usize,
    ) -> Result<Option<Vec<u64>>, ServiceError> {
        Ok(self.store.numbers_matching(q, cap).await?)
    }

    /// Status counters.
    pub async fn counts(&self) -> Result<Counts, ServiceError> {
        Ok(self.store.counts().await?)
    }

    /// Customers matching a search.
    pub async fn customers(
        &self,
        q: &str,
        limit: usize,
    ) -> Result<Vec<CustomerRecord>, ServiceError> {
        Ok(self.store.customers(q, limit).await?)
    }

    /// One customer.
    pub async fn customer(&self, id: CustomerId) -> Result<CustomerRecord, ServiceError> {
        Ok(self.store.customer(id).await?)
    }
}
