//! Typed actions and events (feature `types`): the core's
//! [`amiproto::types`] through the blocking client.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use amiproto::types::{ActionType, EventType};
use amiproto::CloseReason;

use crate::EventItem;
use crate::{Client, Error};

impl Client {
    /// Send a typed action and type its outcome ([`ActionType::reply`]):
    /// a list action's items, `Getvar`'s value… An outcome of another
    /// shape is [`Error::Reply`], which holds it whole.
    ///
    /// ```no_run
    /// # fn demo(client: &mut amiproto_std::Client) -> Result<(), amiproto_std::Error> {
    /// use amiproto::types::actions::{CoreShowChannels, Getvar};
    ///
    /// for c in client.request(CoreShowChannels::new())? {
    ///     println!("{:?} up {:?}", c.channel().name(), c.duration());
    /// }
    /// let lang = client.request(Getvar::new("CHANNEL(language)").channel("PJSIP/100-00000001"))?;
    /// # Ok(()) }
    /// ```
    pub fn request<A: ActionType>(&mut self, action: A) -> Result<A::Reply, Error> {
        let outcome = self.send(action.into())?;
        A::reply(outcome).map_err(Error::Reply)
    }

    /// The next event of type `E`, waiting at most `timeout` (`None`:
    /// until one comes); `Ok(None)` when the time is up.
    ///
    /// The client has one event queue: every other item read meanwhile
    /// (other events, lag reports, streamed list items) is consumed and
    /// dropped. To see everything, read [`Client::next_event`] and type
    /// each packet with [`amiproto::types::events::TypedEvent`].
    pub fn next_event_of<E: EventType>(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<E>, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let Some(item) = self.next_event(left)? else {
                return Ok(None);
            };
            if let EventItem::Event(p) = item {
                if let Ok(e) = E::from_packet(p) {
                    return Ok(Some(e));
                }
            }
        }
    }

    /// A blocking iterator over the events of type `E` (see
    /// [`Client::next_event_of`]: other items are dropped). It ends after
    /// the connection does, yielding the error first unless the end was a
    /// logoff.
    ///
    /// ```no_run
    /// # fn demo(client: &mut amiproto_std::Client) -> Result<(), amiproto_std::Error> {
    /// use amiproto::types::events::Hangup;
    ///
    /// for h in client.events_of::<Hangup>() {
    ///     let h = h?;
    ///     println!("{:?} {:?}", h.channel().name(), h.cause());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events_of<E: EventType>(&mut self) -> TypedEvents<'_, E> {
        TypedEvents {
            client: self,
            done: false,
            kind: PhantomData,
        }
    }
}

/// Blocking iterator over one event type, from [`Client::events_of`].
#[derive(Debug)]
pub struct TypedEvents<'a, E> {
    client: &'a mut Client,
    done: bool,
    kind: PhantomData<fn() -> E>,
}

impl<E: EventType> Iterator for TypedEvents<'_, E> {
    type Item = Result<E, Error>;

    fn next(&mut self) -> Option<Result<E, Error>> {
        if self.done {
            return None;
        }
        match self.client.next_event_of::<E>(None) {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => None,
            Err(Error::Closed(CloseReason::LoggedOff)) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
