//! Typed actions and subscriptions (feature `types`): the core's
//! [`amiproto::types`] through the client.

use std::marker::PhantomData;

use amiproto::types::{ActionType, EventType};

use crate::events::{EventFilter, EventItem, EventStream, Overflow};
use crate::{Client, Error};

/// A subscription to one event type, from [`Client::events_of`]: an
/// [`EventStream`] whose filter takes only `E` (by its `Event:` name), read
/// as `E`.
///
/// ```no_run
/// # async fn demo(client: amiproto_tokio::Client) {
/// use amiproto::types::events::Hangup;
///
/// let mut hangups = client.events_of::<Hangup>();
/// while let Some(h) = hangups.next_event().await {
///     println!("{:?} {:?}", h.channel().name(), h.cause());
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct TypedEvents<E> {
    inner: EventStream,
    kind: PhantomData<fn() -> E>,
}

impl<E: EventType> TypedEvents<E> {
    /// The next event, skipping lag reports and reconnect markers (read
    /// them with [`TypedEvents::recv`]); `None` at the end.
    pub async fn next_event(&mut self) -> Option<E> {
        loop {
            if let Ok(e) = E::from_packet(self.inner.next_event().await?) {
                return Some(e);
            }
        }
    }

    /// The next item: `Ok` with an event, or `Err` with what else the
    /// stream reports (lag, reconnect); `None` at the end.
    pub async fn recv(&mut self) -> Option<Result<E, EventItem>> {
        loop {
            match self.inner.recv().await? {
                EventItem::Event(p) => match E::from_packet(p) {
                    Ok(e) => return Some(Ok(e)),
                    // The filter only lets `E` through.
                    Err(_) => continue,
                },
                other => return Some(Err(other)),
            }
        }
    }

    /// The untyped stream underneath (queue length, lag total, closing).
    pub fn stream(&self) -> &EventStream {
        &self.inner
    }

    /// The untyped stream.
    pub fn into_stream(self) -> EventStream {
        self.inner
    }
}

impl Client {
    /// Events of type `E` from now on, typed, lossy with the default
    /// capacity. Only their `Event:` name is read to route them.
    pub fn events_of<E: EventType>(&self) -> TypedEvents<E> {
        self.events_of_with(Overflow::default())
    }

    /// Events of type `E`, with the given overflow policy.
    pub fn events_of_with<E: EventType>(&self, overflow: Overflow) -> TypedEvents<E> {
        TypedEvents {
            inner: self.events_matching_with(EventFilter::name(E::NAME), overflow),
            kind: PhantomData,
        }
    }

    /// Send a typed action and type its outcome ([`ActionType::reply`]):
    /// a list action's items, `Getvar`'s value… An outcome of another
    /// shape is [`Error::Reply`], which holds it whole.
    ///
    /// ```no_run
    /// # async fn demo(client: amiproto_tokio::Client) -> Result<(), amiproto_tokio::Error> {
    /// use amiproto::types::actions::{CoreShowChannels, Getvar};
    ///
    /// for c in client.request(CoreShowChannels::new()).await? {
    ///     println!("{:?} up {:?}", c.channel().name(), c.duration());
    /// }
    /// let lang = client.request(Getvar::new("CHANNEL(language)").channel("PJSIP/100-00000001")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn request<A: ActionType>(&self, action: A) -> Result<A::Reply, Error> {
        let outcome = self.send(action.into()).await?;
        A::reply(outcome).map_err(Error::Reply)
    }
}
