"""AlpacaBroker: the BrokerClient over Alpaca's trading API (alpaca-py's TradingClient for REST,
TradingStream for trade updates), paper or live.

An order POST is sent exactly once: alpaca-py's own retry (of 429 and 504, sleeping 3 s) is off,
and every failure maps onto the BrokerClient errors, so that the OMS, not the SDK, decides what
happens after an unknown outcome. Quantities and prices travel as strings both ways (alpaca-py's
request models hold floats, its TradeUpdate model too), so a Decimal arrives exactly as sent.

Option orders follow alpaca-py's request models (alpaca.trading.requests: MarketOrderRequest and
LimitOrderRequest, with OptionLegRequest legs and PositionIntent) and Alpaca's order reference: one
leg goes as a plain order of its OCC symbol (ratio x units contracts, the leg's price per contract as
its limit); two to four legs as one order of class "mleg" whose qty is the units, each leg with its
ratio_qty, and whose limit_price is the net price per unit, "a positive value indicates a debit,
a negative value a credit" (LimitOrderRequest's documentation), the platform's own sign. Alpaca
answers an mleg order with an empty symbol and side and its legs, each with its filled quantity
and average price; the parent's filled_avg_price is the net price, in the same sign.
"""

import asyncio
import contextlib
import email.utils
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, PositionIntent, QueryOrderStatus
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    OptionLegRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)
from alpaca.trading.stream import TradingStream
from pydantic import TypeAdapter, ValidationError

from execution.core.brokers.base import (
    BrokerAccount,
    BrokerClient,
    BrokerError,
    BrokerLeg,
    BrokerOrder,
    BrokerPosition,
    BrokerRateLimited,
    BrokerUnavailable,
    LegRequest,
    OptionOrderRequest,
    OrderRejected,
    OrderRequest,
    TradeUpdate,
)
from marketdata.core.errors import ApplicationError, NotFound, ProviderNotConfigured
from marketdata.core.options import OptionContract
from strategies.core.types import OrderStatus, OrderType, Side, TimeInForce

log = logging.getLogger(__name__)

# Alpaca's order statuses, as the platform reads them. The ones in _WORKING read as
# PARTIALLY_FILLED once part of the order has filled.
ALPACA_STATUSES: dict[str, OrderStatus] = {
    "pending_new": OrderStatus.SUBMITTED,
    "pending_review": OrderStatus.SUBMITTED,
    "new": OrderStatus.ACCEPTED,
    "accepted": OrderStatus.ACCEPTED,
    "pending_cancel": OrderStatus.ACCEPTED,
    "pending_replace": OrderStatus.ACCEPTED,
    "accepted_for_bidding": OrderStatus.ACCEPTED,
    "calculated": OrderStatus.ACCEPTED,
    "stopped": OrderStatus.ACCEPTED,
    "suspended": OrderStatus.ACCEPTED,
    "held": OrderStatus.ACCEPTED,
    "done_for_day": OrderStatus.ACCEPTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "replaced": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
_WORKING = frozenset(status for status, ours in ALPACA_STATUSES.items() if ours is OrderStatus.ACCEPTED)

FILL_EVENTS = frozenset({"fill", "partial_fill"})
OPEN_ORDERS_PAGE = 500  # Alpaca's largest page of orders
_REQUESTS = {
    OrderType.MARKET: MarketOrderRequest,
    OrderType.LIMIT: LimitOrderRequest,
    OrderType.STOP: StopOrderRequest,
    OrderType.STOP_LIMIT: StopLimitOrderRequest,
}
_TIMES = TypeAdapter(datetime)  # reads Alpaca's nanosecond timestamps too (fromisoformat does not)


_STOP = object()  # ends the delivery of trade updates


class AlpacaBroker(BrokerClient):
    name = "alpaca"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        paper: bool = True,
        url_override: str | None = None,
        stream_url: str | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        option_commission: Decimal = Decimal(0),
    ) -> None:
        if not api_key or not secret_key:
            raise ProviderNotConfigured("Alpaca keys are not set: set ALPACA_API_KEY and ALPACA_API_SECRET")
        self.paper = paper
        self._api_key, self._secret_key = api_key, secret_key
        self._stream_url = stream_url
        self._timeout = timeout
        self._clock = clock
        self.option_commission = option_commission  # per contract: Alpaca charges none
        self._client = _OnceTradingClient(
            api_key, secret_key, paper=paper, url_override=url_override, timeout=timeout
        )

    # --- orders ---------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> BrokerOrder:
        cid = request.client_order_id
        try:
            alpaca_request = _REQUESTS[request.order_type](
                symbol=request.symbol,
                qty=request.qty,
                side=OrderSide(request.side.value),
                time_in_force=AlpacaTimeInForce(request.tif.value),
                client_order_id=cid,
                limit_price=request.limit_price,
                stop_price=request.stop_price,
            )
        except ValueError as exc:  # pydantic's ValidationError among them: nothing was sent
            raise OrderRejected(f"order {cid} is not a valid Alpaca order: {exc}") from exc
        fields = alpaca_request.to_request_fields()
        # The SDK's request models turned these into floats; Alpaca takes them as strings.
        fields["qty"] = _text(request.qty)
        for key in ("limit_price", "stop_price"):
            if (price := getattr(request, key)) is not None:
                fields[key] = _text(price)
        return self._post(cid, fields)

    def place_option_order(self, request: OptionOrderRequest) -> BrokerOrder:
        cid = request.client_order_id
        kind = _REQUESTS[request.order_type]
        common = {"time_in_force": AlpacaTimeInForce(request.tif.value), "client_order_id": cid}
        try:
            if len(request.legs) == 1:
                leg = request.legs[0]
                qty, price = request.qty * leg.ratio, _leg_limit(request)
                alpaca_request = kind(
                    symbol=leg.symbol,
                    qty=qty,
                    side=OrderSide(leg.side.value),
                    position_intent=_intent(leg, request.reduce_only),
                    limit_price=price,
                    **common,
                )
            else:
                qty, price = request.qty, request.limit_price
                alpaca_request = kind(
                    qty=qty,
                    order_class=OrderClass.MLEG,
                    legs=[
                        OptionLegRequest(
                            symbol=leg.symbol,
                            ratio_qty=leg.ratio,
                            side=OrderSide(leg.side.value),
                            position_intent=_intent(leg, request.reduce_only),
                        )
                        for leg in request.legs
                    ],
                    limit_price=price,
                    **common,
                )
        except ValueError as exc:  # pydantic's ValidationError among them: nothing was sent
            raise OrderRejected(f"order {cid} is not a valid Alpaca option order: {exc}") from exc
        fields = alpaca_request.to_request_fields()
        fields["qty"] = _text(qty)
        if price is not None:
            fields["limit_price"] = _text(price)
        if "legs" in fields:
            for sent, leg in zip(fields["legs"], request.legs, strict=True):
                sent["ratio_qty"] = str(leg.ratio)
        return self._post(cid, fields)

    def _post(self, cid: str, fields: dict[str, Any]) -> BrokerOrder:
        with self._errors(f"order {cid}", refused=OrderRejected):
            # Not submit_order(): it would send the floats.
            reply = self._client.post("/orders", fields)
            return _order(reply)

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        try:
            with self._errors(f"order {client_order_id}"):
                return _order(self._client.get_order_by_client_id(client_order_id))
        except NotFound:
            return None

    def cancel_order(self, client_order_id: str) -> None:
        # Alpaca cancels by its own id only; the lookup's 404 is the NotFound of the contract.
        # A finished order is left alone, as the other brokers do: its state shows in get_order.
        with self._errors(f"order {client_order_id}"):
            found = self._client.get_order_by_client_id(client_order_id)
            if order_status(found["status"]).terminal:
                return
            try:
                self._client.cancel_order_by_id(found["id"])
            except APIError as exc:
                # 422: "not cancelable", the order finished between the lookup and the cancel.
                if exc.status_code != 422:
                    raise

    def get_open_orders(self) -> list[BrokerOrder]:
        with self._errors("open orders"):
            replies = self._client.get_orders(
                GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=OPEN_ORDERS_PAGE)
            )
            if len(replies) >= OPEN_ORDERS_PAGE:
                # A full page may hide more: reading it as all of them would hide working orders.
                raise BrokerUnavailable(
                    f"Alpaca answered a full page of {len(replies)} open orders; more may exist, "
                    "and the platform does not page through them"
                )
            return [_order(reply) for reply in replies]

    # --- account --------------------------------------------------------------------------------

    def get_positions(self) -> list[BrokerPosition]:
        with self._errors("positions"):
            return [_position(reply) for reply in self._client.get_all_positions()]

    def get_account(self) -> BrokerAccount:
        with self._errors("account"):
            reply = self._client.get_account()
            return BrokerAccount(
                account_id=str(reply["id"]),
                currency=reply.get("currency") or "USD",
                cash=_decimal(reply["cash"]),
                equity=_decimal(reply["equity"]),
                buying_power=_decimal(reply["buying_power"]),
                # Each of the three stops orders from being placed.
                trading_blocked=any(
                    bool(reply.get(flag))
                    for flag in ("trading_blocked", "account_blocked", "trade_suspended_by_user")
                ),
            )

    # --- trade updates --------------------------------------------------------------------------

    def stream_updates(self, handler: Callable[[TradeUpdate], None]) -> Callable[[], None]:
        """The SDK reads the stream in an asyncio loop; updates are handed to handler from a plain
        thread of their own, in order, so the handler may block (write to a database). Returns
        once Alpaca confirms it listens to trade updates (or after the timeout, with a warning)."""
        stream = _TradeStream(
            self._api_key, self._secret_key, paper=self.paper, raw_data=True, url_override=self._stream_url
        )
        updates: queue.Queue = queue.Queue()

        async def on_message(message: dict[str, Any]) -> None:
            try:
                updates.put(trade_update(message["data"], option_commission=self.option_commission))
            except (KeyError, TypeError, ValueError, ApplicationError):
                # The order's state still reaches the OMS through get_order (reconciliation).
                log.exception("unreadable Alpaca trade update: %r", message)

        def deliver() -> None:
            while (update := updates.get()) is not _STOP:
                try:
                    handler(update)
                except Exception:
                    log.exception("the trade update handler failed on %s of %s", update.event, update.order)

        stream.subscribe_trade_updates(on_message)
        thread = threading.Thread(target=stream.run, name="alpaca-trade-updates", daemon=True)
        dispatcher = threading.Thread(target=deliver, name="alpaca-trade-handler", daemon=True)
        thread.start()
        dispatcher.start()
        # Orders placed before Alpaca confirms the subscription could have updates no one hears
        # (reconciliation would still find them): wait for it, a bounded while.
        if not stream.listening.wait(self._timeout):
            log.warning(
                "the Alpaca trade stream is not listening after %s s; updates may come late", self._timeout
            )

        def stop() -> None:
            if thread.is_alive():
                stream.stop_now(timeout=5)
            # Joining keeps a second stream from overlapping this one (one stream per key).
            thread.join(timeout=10)
            updates.put(_STOP)
            dispatcher.join(timeout=10)

        return stop

    # --- errors ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, what: str, *, refused: type[ApplicationError] = BrokerError) -> Iterator[None]:
        """Alpaca's failures as the BrokerClient's: 404 NotFound, 429 BrokerRateLimited, any other
        4xx `refused` (a definitive no), 5xx, timeouts, broken connections and replies that cannot
        be read BrokerUnavailable (the outcome is unknown)."""
        try:
            yield
        except APIError as exc:
            raise self._api_error(what, exc, refused) from exc
        except requests.Timeout as exc:
            raise BrokerUnavailable(
                f"Alpaca did not answer about {what} within {self._timeout} s; the outcome is unknown"
            ) from exc
        except requests.RequestException as exc:
            raise BrokerUnavailable(
                f"Alpaca request about {what} failed: {type(exc).__name__}; the outcome is unknown",
                details={"error": str(exc)},
            ) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise BrokerUnavailable(
                f"Alpaca's reply about {what} cannot be read: {type(exc).__name__}: {exc}"
            ) from exc

    def _api_error(self, what: str, exc: APIError, refused: type[ApplicationError]) -> ApplicationError:
        status = exc.status_code
        message, code = _reason(exc)
        details = {"status": status, "code": code}
        if status == 429:
            retry_after = _retry_after(exc.response.headers, self._clock())
            when = "later" if retry_after is None else f"in {retry_after:g} s"
            return BrokerRateLimited(
                f"Alpaca rate limit on {what}: {message}; try again {when}", retry_after=retry_after
            )
        if status is None or status >= 500 or status < 400:
            return BrokerUnavailable(
                f"Alpaca failed on {what}: HTTP {status}: {message}; the outcome is unknown", details=details
            )
        if refused is OrderRejected:  # any 4xx to an order: it was not placed
            return OrderRejected(f"Alpaca rejected {what}: {message}", details=details)
        if status == 404:
            return NotFound(f"Alpaca has no {what}: {message}", details=details)
        return refused(f"Alpaca refused {what}: HTTP {status}: {message}", details=details)


class _OnceTradingClient(TradingClient):
    """alpaca-py's TradingClient that sends each request once, with a timeout.

    RESTClient retries 429 and 504 answers three times, 3 s apart, through time.sleep; an order
    POST must never be repeated blindly (a 504 does not say the order was not placed). The retry
    count cannot be switched off through the constructor (0 means "the default"), so it is set
    here after it. requests waits forever without a timeout, and the SDK sets none.
    """

    def __init__(self, api_key, secret_key, *, paper, url_override, timeout) -> None:
        super().__init__(api_key, secret_key, paper=paper, raw_data=True, url_override=url_override)
        self._retry = 0
        self._retry_codes = []
        self._timeout = timeout

    def _one_request(self, method: str, url: str, opts: dict, retry: int) -> dict:
        return super()._one_request(method, url, {**opts, "timeout": self._timeout}, 0)


class _TradeStream(TradingStream):
    """alpaca-py's TradingStream with a stop that works at any time and takes effect at once.

    The SDK's stop() fails when called before its event loop exists, waits forever when the loop
    ends meanwhile, and its consumer notices a stop only when its 5 s receive times out; closing
    the socket as well wakes it now.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._started = threading.Event()
        self._running_loop: asyncio.AbstractEventLoop | None = None
        self.listening = threading.Event()  # Alpaca confirmed the trade_updates subscription

    async def _dispatch(self, msg: dict) -> None:
        if msg.get("stream") == "listening" and "trade_updates" in (msg.get("data") or {}).get("streams", []):
            self.listening.set()
        await super()._dispatch(msg)

    async def _run_forever(self) -> None:
        self._running_loop = asyncio.get_running_loop()
        self._started.set()
        await super()._run_forever()

    async def stop_ws(self) -> None:
        await super().stop_ws()
        await self.close()

    def stop_now(self, timeout: float) -> None:
        if not self._started.wait(timeout) or self._running_loop is None:
            return
        # RuntimeError: the loop has ended already; TimeoutError: it is stuck (the join that
        # follows is bounded too).
        with contextlib.suppress(RuntimeError, TimeoutError):
            asyncio.run_coroutine_threadsafe(self.stop_ws(), self._running_loop).result(timeout)


# --- reading Alpaca's replies -----------------------------------------------------------------------


def order_status(alpaca_status: str, filled_qty: Decimal = Decimal(0)) -> OrderStatus:
    """The platform's status of an order in Alpaca's `alpaca_status` with `filled_qty` filled."""
    try:
        status = ALPACA_STATUSES[alpaca_status]
    except KeyError:
        raise BrokerUnavailable(f"unknown Alpaca order status {alpaca_status!r}") from None
    if alpaca_status in _WORKING and filled_qty > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def trade_update(data: dict[str, Any], *, option_commission: Decimal = Decimal(0)) -> TradeUpdate:
    """A TradeUpdate of the `data` of an Alpaca trade_updates message. An option order's fill has
    its commission at `option_commission` per contract (of an mleg order, qty is in units)."""
    event = str(data["event"])
    fill = event in FILL_EVENTS
    order = _order(data["order"])
    fill_qty = _decimal(data["qty"]) if fill else None
    commission = None
    if fill and order.legs:
        ratios = _ratios(data["order"])
        commission = option_commission * fill_qty * (sum(ratios) if ratios else 1)
    return TradeUpdate(
        event=event,
        order=order,
        ts=_time(data["timestamp"]),
        fill_qty=fill_qty,
        fill_price=_decimal(data["price"]) if fill else None,
        execution_id=str(data.get("execution_id") or ""),
        commission=commission,
    )


def _order(reply: dict[str, Any]) -> BrokerOrder:
    filled_qty = _decimal(reply.get("filled_qty") or "0")
    average = reply.get("filled_avg_price")
    legs = _legs(reply)
    mleg = reply.get("order_class") == OrderClass.MLEG.value
    return BrokerOrder(
        client_order_id=reply["client_order_id"],
        broker_order_id=str(reply["id"]),
        # Alpaca leaves an mleg order's symbol and side empty: its underlying, and no one side.
        symbol=OptionContract.parse(legs[0].symbol).underlying if mleg else reply["symbol"],
        side=None if mleg else _enum(Side, reply["side"], "side"),
        qty=_decimal(reply["qty"]),
        order_type=_enum(OrderType, reply.get("type") or reply.get("order_type"), "order type"),
        status=order_status(reply["status"], filled_qty),
        broker_status=reply["status"],
        filled_qty=filled_qty,
        avg_fill_price=_decimal(average) if average is not None and filled_qty > 0 else None,
        limit_price=_optional_decimal(reply.get("limit_price")),
        stop_price=_optional_decimal(reply.get("stop_price")),
        tif=_enum(TimeInForce, reply["time_in_force"], "time in force"),
        submitted_at=_optional_time(reply.get("submitted_at")),
        updated_at=_optional_time(reply.get("updated_at")),
        legs=legs,
    )


def _legs(reply: dict[str, Any]) -> tuple[BrokerLeg, ...]:
    """An option order's legs: an mleg order's own, a plain option order as its one leg; none for
    shares."""
    if reply.get("order_class") == OrderClass.MLEG.value:
        if not reply.get("legs"):
            raise BrokerUnavailable(f"Alpaca sent the multi-leg order {reply.get('id')} without its legs")
        return tuple(_leg(leg) for leg in reply["legs"])
    if reply.get("asset_class") == "us_option":
        return (_leg(reply),)
    return ()


def _leg(reply: dict[str, Any]) -> BrokerLeg:
    filled_qty = _decimal(reply.get("filled_qty") or "0")
    average = reply.get("filled_avg_price")
    return BrokerLeg(
        symbol=reply["symbol"],
        side=_enum(Side, reply["side"], "side"),
        filled_qty=filled_qty,
        avg_fill_price=_decimal(average) if average is not None and filled_qty > 0 else None,
    )


def _ratios(reply: dict[str, Any]) -> list[int]:
    """The ratio_qty of an mleg order's legs (none for a plain order)."""
    return [int(_decimal(leg["ratio_qty"])) for leg in reply.get("legs") or []]


def _intent(leg: LegRequest, reduce_only: bool) -> PositionIntent:
    return PositionIntent(f"{leg.side.value}_to_{'close' if reduce_only else 'open'}")


def _leg_limit(request: OptionOrderRequest) -> Decimal | None:
    """The limit price per contract of a one-leg order: its net price per unit over the leg's signed
    ratio. A buy's net is a debit and a sell's a credit; one that is not, or that the ratio does not
    divide exactly, is refused before anything is sent."""
    if request.limit_price is None:
        return None
    leg = request.legs[0]
    price = request.limit_price * leg.side.sign / leg.ratio
    if price <= 0 or price * leg.ratio != request.limit_price * leg.side.sign:
        raise OrderRejected(
            f"order {request.client_order_id}: a net limit of {request.limit_price} is not a positive "
            f"price per contract for {leg.side} {leg.ratio} {leg.symbol} (a buy's net is a debit, "
            "a sell's a credit, and it divides exactly by the ratio)"
        )
    return price


def _position(reply: dict[str, Any]) -> BrokerPosition:
    # Alpaca sends a short's qty negative already; the side decides, whichever sign qty carries.
    size = abs(_decimal(reply["qty"]))
    return BrokerPosition(
        symbol=reply["symbol"],
        qty=-size if reply["side"] == "short" else size,
        avg_entry_price=_decimal(reply["avg_entry_price"]),
        market_value=_optional_decimal(reply.get("market_value")),
    )


def _enum(enum, value, what: str):
    try:
        return enum(value)
    except ValueError:
        raise BrokerUnavailable(f"Alpaca sent an {what} the platform does not trade: {value!r}") from None


def _decimal(value) -> Decimal:
    # str() first: a float (which Alpaca does not send) would otherwise carry its binary noise.
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BrokerUnavailable(f"Alpaca sent {value!r} where a number belongs") from None
    if not number.is_finite():
        raise BrokerUnavailable(f"Alpaca sent {value!r} where a number belongs")
    return number


def _optional_decimal(value) -> Decimal | None:
    return None if value is None or value == "" else _decimal(value)


def _time(value) -> datetime:
    try:
        return _TIMES.validate_python(value)
    except ValidationError:
        raise BrokerUnavailable(f"Alpaca sent {value!r} where a time belongs") from None


def _optional_time(value) -> datetime | None:
    return None if value is None else _time(value)


def _text(number: Decimal) -> str:
    return format(number, "f")  # never an exponent: Alpaca reads "100", not "1E+2"


def _reason(exc: APIError) -> tuple[str, int | None]:
    """Alpaca's own message and code from an error reply, or the first line of one that is not JSON."""
    try:
        body = json.loads(str(exc))
        return str(body["message"]), body.get("code")
    except (ValueError, KeyError, TypeError, AttributeError):
        lines = str(exc).strip().splitlines()
        return (lines[0][:200] if lines else "no message"), None


def _retry_after(headers, now: float) -> float | None:
    """Seconds to wait from Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (a Unix
    time); None when neither says."""
    if value := headers.get("Retry-After"):
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    if value := headers.get("X-RateLimit-Reset"):
        try:
            return max(0.0, float(value) - now)
        except ValueError:
            pass
    return None
