"""A small stateful fake of Alpaca's trading API on 127.0.0.1: REST (orders, positions, account)
and the trade_updates websocket, answering in the shapes alpaca-py reads, so that AlpacaBroker's
tests run the real SDK. Test hooks fill orders and make the next request fail, rate-limit or hang.

Options as Alpaca's order reference describes them: an order of an OCC symbol is a plain option
order (whole contracts, day only); an order of class "mleg" has 2 to 4 legs on one underlying, each
with its symbol, ratio_qty (in lowest terms), side and position_intent, a qty in units and a
limit_price that is the net per unit (positive a debit, negative a credit). It is answered with an
empty symbol and side, and its legs as orders of their own (qty = ratio_qty x units); a fill moves
every leg at once and the parent's filled_avg_price is the net. Money of options is x100.
"""

import contextlib
import itertools
import json
import math
import re
import threading
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pytest_httpserver import HTTPServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from execution.core.brokers.alpaca import AlpacaBroker

KEY, SECRET = "fake-key-id", "fake-secret"
START = datetime(2024, 5, 2, 13, 30, tzinfo=UTC)  # the fake's clock: one second per event
HANG_LIMIT = 10.0  # a hung answer is released by the test, or after this many seconds

OPEN = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "partially_filled",
        "pending_cancel",
        "pending_replace",
        "accepted_for_bidding",
        "calculated",
        "stopped",
        "suspended",
        "held",
        "done_for_day",
    }
)
ROUTES = Map(
    [
        Rule("/v2/orders", methods=["POST"], endpoint="order_create"),
        Rule("/v2/orders", methods=["GET"], endpoint="order_list"),
        Rule("/v2/orders:by_client_order_id", methods=["GET"], endpoint="order_by_client_id"),
        Rule("/v2/orders/<order_id>", methods=["GET"], endpoint="order_get"),
        Rule("/v2/orders/<order_id>", methods=["DELETE"], endpoint="order_cancel"),
        Rule("/v2/positions", methods=["GET"], endpoint="position_list"),
        Rule("/v2/account", methods=["GET"], endpoint="account_get"),
    ]
)
ORDER_NOT_FOUND = (404, {"code": 40410000, "message": "order not found"})
OCC = re.compile(r"(?P<root>[A-Z0-9]{1,6})\d{6}[CP]\d{8}")
MULTIPLIER = Decimal(100)
INTENTS = {
    "buy": {"buy_to_open", "buy_to_close"},
    "sell": {"sell_to_open", "sell_to_close"},
}


def _uuid(kind: str, n: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-alpaca/{kind}/{n}"))


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _invalid(message: str) -> tuple[int, dict]:
    return 422, {"code": 40010001, "message": message}


class FakeAlpaca:
    """Alpaca's trading API as far as AlpacaBroker uses it.

    State: orders (by Alpaca id, as Alpaca's JSON), positions (symbol -> signed qty and average
    entry price), cash, last prices. Records every request (`requests`) and every order body
    POSTed (`posted`, as received: qty and prices keep their JSON type).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.http = HTTPServer("127.0.0.1", 0, threaded=True)
        self._ws_server = None
        self.reset()

    # --- life -----------------------------------------------------------------------------------

    def start(self) -> "FakeAlpaca":
        self.http.expect_request(re.compile(r".*")).respond_with_handler(self._dispatch)
        self.http.start()
        self._ws_server = serve(self._ws_session, "127.0.0.1", 0)
        threading.Thread(target=self._ws_server.serve_forever, name="fake-alpaca-ws", daemon=True).start()
        return self

    def stop(self) -> None:
        self.reset()
        self._ws_server.shutdown()
        self.http.clear()
        self.http.stop()

    def reset(self, cash: Decimal = Decimal(100_000)) -> None:
        if hasattr(self, "_release"):
            self._release.set()  # a request still hanging from the last test answers now
            for listener in list(self._listeners):
                listener.close()
        with self._lock:
            self.orders: dict[str, dict] = {}
            self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (signed qty, avg entry)
            self.last_prices: dict[str, Decimal] = {}
            self.cash = cash
            self.initial_status = "accepted"  # what a new order is: Alpaca answers "accepted" out of hours
            self.trading_blocked = False
            self.requests: list[tuple[str, str]] = []
            self.posted: list[dict] = []
            self.listening = threading.Event()
            self._listeners: list[ServerConnection] = []
            self._outbox: list[dict] = []
            self._canned: deque[Response] = deque()
            self._hang_next = False
            self._release = threading.Event()
            self._ticks = itertools.count(1)
            self._numbers = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://127.0.0.1:{self._ws_server.socket.getsockname()[1]}/stream"

    # --- test hooks -----------------------------------------------------------------------------

    def respond_next(self, status: int, body: dict | str, headers: dict[str, str] | None = None) -> None:
        """The next request (whatever it asks) gets this answer and changes nothing."""
        text = body if isinstance(body, str) else json.dumps(body)
        with self._lock:
            self._canned.append(
                Response(text, status=status, headers=headers or {}, content_type="application/json")
            )

    def fail_next(self, status: int = 500) -> None:
        self.respond_next(status, {"code": 50010000, "message": "internal server error occurred"})

    def rate_limit_next(self, *, retry_after: str | None = None, reset: int | None = None) -> None:
        headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0"}
        if reset is not None:
            headers["X-RateLimit-Reset"] = str(reset)
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        self.respond_next(429, {"code": 42910000, "message": "rate limit exceeded"}, headers)

    def hang_next(self) -> None:
        """The next request is carried out, but its answer waits for release() (or HANG_LIMIT):
        a client with a shorter timeout never learns what happened."""
        with self._lock:
            self._hang_next = True

    def release(self) -> None:
        self._release.set()

    def count(self, method: str, path: str) -> int:
        return self.requests.count((method, path))

    def order(self, client_order_id: str) -> dict | None:
        return next((o for o in self.orders.values() if o["client_order_id"] == client_order_id), None)

    def fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> dict:
        """Fill `qty` of the order at `price`, as the market would: updates the order, the position
        and cash, and streams a fill or partial_fill. Returns the trade update's data."""
        with self._lock:
            order = self.order(client_order_id)
            assert order is not None, f"no order {client_order_id}"
            assert order["status"] in OPEN, f"order {client_order_id} is {order['status']}"
            filled = Decimal(order["filled_qty"])
            ordered = Decimal(order["qty"])
            assert 0 < qty <= ordered - filled, f"cannot fill {qty} of {ordered - filled} left"
            average = Decimal(order["filled_avg_price"] or 0)
            now = self._now()
            order["filled_avg_price"] = str((average * filled + price * qty) / (filled + qty))
            order["filled_qty"] = str(filled + qty)
            order["status"] = "filled" if filled + qty == ordered else "partially_filled"
            order["updated_at"] = _time(now)
            if order["status"] == "filled":
                order["filled_at"] = _time(now)
            signed = qty if order["side"] == "buy" else -qty
            self.cash -= signed * price * _multiplier(order)
            self.last_prices[order["symbol"]] = price
            position_qty = self._position_add(order["symbol"], signed, price)
            event = "fill" if order["status"] == "filled" else "partial_fill"
            update = self._publish(
                event,
                order,
                now,
                execution_id=_uuid("execution", next(self._numbers)),
                price=str(price),
                qty=str(qty),
                position_qty=str(position_qty),
            )
        self._flush()
        return update

    def fill_legs(self, client_order_id: str, units: int, prices: list[Decimal]) -> dict:
        """Fill `units` of a multi-leg order, each leg at its price in `prices` (in the legs' order),
        as Alpaca fills one: all legs together, the parent at the net price. A limit order fills only
        at its limit or better (net at or below it, a credit being negative). Streams the parent's
        fill or partial_fill; returns the trade update's data."""
        with self._lock:
            order = self.order(client_order_id)
            assert order is not None, f"no order {client_order_id}"
            assert order["order_class"] == "mleg", f"{client_order_id} is not a multi-leg order"
            assert order["status"] in OPEN, f"order {client_order_id} is {order['status']}"
            filled, ordered = int(order["filled_qty"]), int(order["qty"])
            assert 0 < units <= ordered - filled, f"cannot fill {units} of {ordered - filled} left"
            assert len(prices) == len(order["legs"])
            net = sum(
                (
                    _sign(leg) * int(leg["ratio_qty"]) * price
                    for leg, price in zip(order["legs"], prices, strict=True)
                ),
                Decimal(0),
            )
            limit = order["limit_price"]
            assert limit is None or net <= Decimal(limit), f"a net of {net} is worse than the limit {limit}"
            now = self._now()
            for leg, price in zip(order["legs"], prices, strict=True):
                qty = units * int(leg["ratio_qty"])
                leg_filled = Decimal(leg["filled_qty"])
                average = Decimal(leg["filled_avg_price"] or 0)
                leg["filled_avg_price"] = str((average * leg_filled + price * qty) / (leg_filled + qty))
                leg["filled_qty"] = str(leg_filled + qty)
                signed = qty * _sign(leg)
                self.cash -= signed * price * MULTIPLIER
                self.last_prices[leg["symbol"]] = price
                self._position_add(leg["symbol"], Decimal(signed), price)
            average = Decimal(order["filled_avg_price"] or 0)
            order["filled_avg_price"] = str((average * filled + net * units) / (filled + units))
            order["filled_qty"] = str(filled + units)
            status = "filled" if filled + units == ordered else "partially_filled"
            for row in (order, *order["legs"]):
                row.update(status=status, updated_at=_time(now))
                if status == "filled":
                    row["filled_at"] = _time(now)
            update = self._publish(
                "fill" if status == "filled" else "partial_fill",
                order,
                now,
                execution_id=_uuid("execution", next(self._numbers)),
                price=str(net),
                qty=str(units),
            )
        self._flush()
        return update

    # --- REST -----------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.path))
            canned = self._canned.popleft() if self._canned else None
            hang, self._hang_next = self._hang_next, False
            release = self._release
        if canned is not None:
            return canned
        if (
            request.headers.get("APCA-API-KEY-ID") != KEY
            or request.headers.get("APCA-API-SECRET-KEY") != SECRET
        ):
            return _json(401, {"code": 40110000, "message": "request is not authorized"})
        try:
            endpoint, arguments = ROUTES.bind("127.0.0.1").match(request.path, method=request.method)
        except HTTPException as exc:
            return _json(exc.code or 404, {"code": 40410000, "message": "endpoint not found"})
        with self._lock:
            status, body = getattr(self, f"_{endpoint}")(request, **arguments)
        self._flush()
        if hang:
            release.wait(HANG_LIMIT)
        return _json(status, body)

    def _order_create(self, request: Request) -> tuple[int, Any]:
        body = request.get_json(silent=True) or {}
        self.posted.append(body)
        client_order_id = body.get("client_order_id") or _uuid("client-order", next(self._numbers))
        if self.order(client_order_id) is not None:
            return _invalid("client_order_id must be unique")
        if body.get("order_class") == "mleg":
            return self._mleg_create(body, client_order_id)
        option = OCC.fullmatch(str(body.get("symbol", ""))) is not None
        if option and (problem := _option_problem(body)):
            return _invalid(problem)
        if body.get("side") not in {"buy", "sell"}:
            return _invalid("invalid order side")
        kind = body.get("type")
        if kind not in {"market", "limit", "stop", "stop_limit"}:
            return _invalid("invalid order type")
        if body.get("time_in_force") not in {"day", "gtc", "opg", "cls", "ioc", "fok"}:
            return _invalid("invalid time_in_force")
        try:
            qty = Decimal(str(body["qty"]))
        except (KeyError, ArithmeticError):
            return _invalid("qty is required")
        if qty <= 0:
            return _invalid("qty must be > 0")
        prices = {}
        for key, needed in (("limit_price", "limit" in kind), ("stop_price", "stop" in kind)):
            if needed != (body.get(key) is not None):
                return _invalid(f"{key} is {'required' if needed else 'not allowed'} for {kind} orders")
            if needed:
                price = Decimal(str(body[key]))
                if price >= 1 and price.as_tuple().exponent < -2:
                    return 422, {
                        "code": 42210000,
                        "message": f"invalid {key} {price}. sub-penny increment does not fulfill "
                        "minimum pricing criteria",
                    }
                prices[key] = str(price)
        if self.trading_blocked:
            return 403, {"code": 40310000, "message": "account is not allowed to trade"}
        if (
            body["side"] == "buy"
            and "limit_price" in prices
            and qty * Decimal(prices["limit_price"]) * (MULTIPLIER if option else 1) > self.cash
        ):
            return 403, {"code": 40310000, "message": "insufficient buying power"}
        order_id = _uuid("order", next(self._numbers))
        order = _order_json(
            order_id,
            client_order_id,
            _time(self._now()),
            asset_id=_uuid("asset", body["symbol"]),
            symbol=body["symbol"],
            asset_class="us_option" if option else "us_equity",
            qty=str(qty),
            order_type=kind,
            type=kind,
            side=body["side"],
            position_intent=body.get("position_intent")
            or ("buy_to_open" if body["side"] == "buy" else "sell_to_open"),
            time_in_force=body["time_in_force"],
            limit_price=prices.get("limit_price"),
            stop_price=prices.get("stop_price"),
            status=self.initial_status,
            extended_hours=bool(body.get("extended_hours", False)),
        )
        self.orders[order_id] = order
        self._publish(self.initial_status, order, self._now())
        return 200, order

    def _mleg_create(self, body: dict, client_order_id: str) -> tuple[int, Any]:
        legs = body.get("legs")
        if not isinstance(legs, list) or not 2 <= len(legs) <= 4:
            return _invalid("mleg orders must have between 2 and 4 legs")
        if body.get("symbol") or body.get("side"):
            return _invalid("symbol and side must be on the legs of an mleg order")
        if body.get("type") not in {"market", "limit"}:
            return _invalid("mleg orders must be market or limit")
        if body.get("time_in_force") != "day":
            return _invalid("options orders must be day orders")
        try:
            units = Decimal(str(body["qty"]))
        except (KeyError, ArithmeticError):
            return _invalid("qty is required")
        if units <= 0 or units != units.to_integral_value():
            return _invalid("qty must be a whole number of units above 0")
        roots, ratios = set(), []
        for leg in legs:
            match = OCC.fullmatch(str(leg.get("symbol", "")))
            if match is None:
                return _invalid(f"invalid option symbol {leg.get('symbol')!r}")
            roots.add(match["root"])
            if leg.get("side") not in INTENTS or leg.get("position_intent") not in INTENTS[leg["side"]]:
                return _invalid(f"leg {leg['symbol']}: side and position_intent do not agree")
            try:
                ratio = Decimal(str(leg["ratio_qty"]))
            except (KeyError, ArithmeticError):
                return _invalid(f"leg {leg['symbol']}: ratio_qty is required")
            if ratio <= 0 or ratio != ratio.to_integral_value():
                return _invalid(f"leg {leg['symbol']}: ratio_qty must be a whole number above 0")
            ratios.append(int(ratio))
        if len({leg["symbol"] for leg in legs}) != len(legs):
            return _invalid("all legs must have unique symbols")
        if len(roots) != 1:
            return _invalid("all legs must have the same underlying")
        if math.gcd(*ratios) != 1:
            return _invalid("leg ratios must be in their simplest form")
        limit = body.get("limit_price")
        if (body["type"] == "limit") != (limit is not None):
            return _invalid(
                f"limit_price is {'required' if limit is None else 'not allowed'} for {body['type']} orders"
            )
        if self.trading_blocked:
            return 403, {"code": 40310000, "message": "account is not allowed to trade"}
        if limit is not None and Decimal(str(limit)) * units * MULTIPLIER > self.cash:
            return 403, {"code": 40310000, "message": "insufficient options buying power"}
        now = _time(self._now())
        order = _order_json(
            _uuid("order", next(self._numbers)),
            client_order_id,
            now,
            order_class="mleg",
            qty=str(units),
            order_type=body["type"],
            type=body["type"],
            time_in_force="day",
            limit_price=None if limit is None else str(Decimal(str(limit))),
            status=self.initial_status,
            legs=[
                _order_json(
                    _uuid("order", next(self._numbers)),
                    _uuid("client-order", next(self._numbers)),
                    now,
                    asset_id=_uuid("asset", leg["symbol"]),
                    symbol=leg["symbol"],
                    asset_class="us_option",
                    order_class="mleg",
                    qty=str(ratio * units),
                    side=leg["side"],
                    position_intent=leg["position_intent"],
                    ratio_qty=str(ratio),
                    time_in_force="day",
                    status=self.initial_status,
                )
                for leg, ratio in zip(legs, ratios, strict=True)
            ],
        )
        self.orders[order["id"]] = order
        self._publish(self.initial_status, order, self._now())
        return 200, order

    def _order_list(self, request: Request) -> tuple[int, Any]:
        wanted = request.args.get("status", "open")
        limit = int(request.args.get("limit", "50"))
        orders = [
            o for o in self.orders.values() if wanted == "all" or (o["status"] in OPEN) == (wanted == "open")
        ]
        orders.sort(key=lambda o: o["submitted_at"], reverse=request.args.get("direction", "desc") == "desc")
        return 200, orders[:limit]

    def _order_by_client_id(self, request: Request) -> tuple[int, Any]:
        order = self.order(request.args.get("client_order_id", ""))
        return (200, order) if order is not None else ORDER_NOT_FOUND

    def _order_get(self, request: Request, order_id: str) -> tuple[int, Any]:
        order = self.orders.get(order_id)
        return (200, order) if order is not None else ORDER_NOT_FOUND

    def _order_cancel(self, request: Request, order_id: str) -> tuple[int, Any]:
        order = self.orders.get(order_id)
        if order is None:
            return ORDER_NOT_FOUND
        if order["status"] not in OPEN:
            return 422, {"code": 42210000, "message": f'order is already in "{order["status"]}" state'}
        now = self._now()
        for row in (order, *(order["legs"] or [])):
            row.update(status="canceled", canceled_at=_time(now), updated_at=_time(now))
        self._publish("canceled", order, now)
        return 204, None

    def _position_list(self, request: Request) -> tuple[int, Any]:
        return 200, [self._position_json(symbol) for symbol in sorted(self.positions)]

    def _account_get(self, request: Request) -> tuple[int, Any]:
        values = [self._market_value(symbol) for symbol in self.positions]
        long_value = sum((v for v in values if v > 0), Decimal(0))
        short_value = sum((v for v in values if v < 0), Decimal(0))
        equity = self.cash + long_value + short_value
        return 200, {
            "id": _uuid("account", "paper"),
            "account_number": "PA3FAKE00001",
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "buying_power": str(self.cash),
            "regt_buying_power": str(self.cash),
            "non_marginable_buying_power": str(self.cash),
            "options_buying_power": str(self.cash),
            "cash": str(self.cash),
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "portfolio_value": str(equity),
            "pattern_day_trader": False,
            "trading_blocked": self.trading_blocked,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": "2024-01-02T14:00:00.000000Z",
            "trade_suspended_by_user": False,
            "multiplier": "1",
            "shorting_enabled": True,
            "equity": str(equity),
            "last_equity": str(equity),
            "long_market_value": str(long_value),
            "short_market_value": str(short_value),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": 0,
            "options_approved_level": 0,
            "options_trading_level": 0,
        }

    # --- positions ------------------------------------------------------------------------------

    def _position_add(self, symbol: str, signed: Decimal, price: Decimal) -> Decimal:
        held, average = self.positions.get(symbol, (Decimal(0), Decimal(0)))
        new = held + signed
        if new == 0:
            self.positions.pop(symbol, None)
            return new
        if held == 0 or (held > 0) != (new > 0):
            average = price  # opened, or turned from long to short (or back): a new position
        elif (held > 0) == (signed > 0):
            average = (average * abs(held) + price * abs(signed)) / abs(new)
        self.positions[symbol] = (new, average)
        return new

    def _market_value(self, symbol: str) -> Decimal:
        size = MULTIPLIER if OCC.fullmatch(symbol) else 1
        return self.positions[symbol][0] * self.last_prices[symbol] * size

    def _position_json(self, symbol: str) -> dict:
        qty, average = self.positions[symbol]
        price = self.last_prices[symbol]
        option = OCC.fullmatch(symbol) is not None
        market_value = self._market_value(symbol)
        cost_basis = qty * average * (MULTIPLIER if option else 1)
        return {
            "asset_id": _uuid("asset", symbol),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_option" if option else "us_equity",
            "asset_marginable": True,
            "avg_entry_price": str(average),
            "qty": str(qty),  # Alpaca sends a short's qty negative, and side "short"
            "side": "long" if qty > 0 else "short",
            "market_value": str(market_value),
            "cost_basis": str(cost_basis),
            "unrealized_pl": str(market_value - cost_basis),
            "unrealized_plpc": "0",
            "unrealized_intraday_pl": str(market_value - cost_basis),
            "unrealized_intraday_plpc": "0",
            "current_price": str(price),
            "lastday_price": str(price),
            "change_today": "0",
            "qty_available": str(qty),
        }

    # --- trade updates --------------------------------------------------------------------------

    def _now(self) -> datetime:
        return START + timedelta(seconds=next(self._ticks))

    def _publish(self, event: str, order: dict, now: datetime, **fields: str) -> dict:
        # Stream timestamps carry nanoseconds, as Alpaca's do.
        data = {"event": event, "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%f123Z"), **fields}
        data["order"] = dict(order)
        self._outbox.append({"stream": "trade_updates", "data": data})
        return data

    def _flush(self) -> None:
        """Send the queued trade updates to every listener (outside the lock: a send may block)."""
        with self._lock:
            messages, self._outbox = self._outbox, []
            listeners = list(self._listeners)
        for message in messages:
            for listener in listeners:
                with contextlib.suppress(ConnectionClosed):
                    listener.send(json.dumps(message).encode())  # Alpaca sends binary frames

    def _ws_session(self, ws: ServerConnection) -> None:
        """Alpaca's trading stream: authenticate, then listen to trade_updates."""
        if ws.request.path != "/stream":
            ws.close(4004, "not found")
            return
        auth = json.loads(ws.recv())
        granted = auth == {"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}
        status = "authorized" if granted else "unauthorized"
        ws.send(json.dumps({"stream": "authorization", "data": {"status": status, "action": "authenticate"}}))
        if not granted:
            ws.close()
            return
        try:
            for raw in ws:
                message = json.loads(raw)
                if message.get("action") != "listen":
                    continue
                streams = message["data"]["streams"]
                ws.send(json.dumps({"stream": "listening", "data": {"streams": streams}}).encode())
                if "trade_updates" in streams:
                    with self._lock:
                        self._listeners.append(ws)
                    self.listening.set()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if ws in self._listeners:
                    self._listeners.remove(ws)


def _order_json(order_id: str, client_order_id: str, now: str, **fields: Any) -> dict:
    """An order as Alpaca answers it: every field, empty where `fields` does not say (an mleg
    order's own symbol, side and asset are empty strings)."""
    return {
        "id": order_id,
        "client_order_id": client_order_id,
        "created_at": now,
        "updated_at": now,
        "submitted_at": now,
        "filled_at": None,
        "expired_at": None,
        "expires_at": None,
        "canceled_at": None,
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": "",
        "symbol": "",
        "asset_class": "",
        "notional": None,
        "qty": None,
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "",
        "order_type": "",
        "type": "",
        "side": "",
        "time_in_force": "day",
        "limit_price": None,
        "stop_price": None,
        "status": "new",
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "subtag": None,
        "source": None,
    } | fields


def _multiplier(order: dict) -> Decimal:
    return MULTIPLIER if order["asset_class"] == "us_option" else Decimal(1)


def _sign(leg: dict) -> int:
    return 1 if leg["side"] == "buy" else -1


def _option_problem(body: dict) -> str:
    """Why Alpaca refuses a plain option order, or ""."""
    if body.get("time_in_force") != "day":
        return "options orders must be day orders"
    qty = Decimal(str(body.get("qty", "0")))
    if qty != qty.to_integral_value():
        return "qty must be a whole number of contracts for options"
    if body.get("position_intent") not in INTENTS.get(body.get("side"), ()):
        return "side and position_intent do not agree"
    return ""


def _json(status: int, body: Any) -> Response:
    if body is None:
        return Response(status=status)
    return Response(json.dumps(body), status=status, content_type="application/json")


def make_broker(fake: FakeAlpaca, **kwargs) -> AlpacaBroker:
    """An AlpacaBroker on the fake (paper keys, a short timeout unless given)."""
    options = {"url_override": fake.url, "stream_url": fake.stream_url, "timeout": 2.0} | kwargs
    return AlpacaBroker(KEY, SECRET, **options)
