"""One update for a model's small weights: their arrays as views of flat buffers.

An optimizer step updates each weight with one fused backend kernel. For a small
weight (a bias, a small kernel) the Python around that call costs more than the
update itself: 7-10 us a weight on the numba backend, for a 2-weight regression
a tenth of its training step. ``FlatWeights`` keeps the small weights of one
backend and dtype, and each of their state slots, as views into one flat buffer
apiece, so that one kernel call updates all of them (PyTorch's multi-tensor
"foreach" updates serve the same purpose); each step copies their gradients into
a flat gradient buffer. A GPU backend launches one kernel instead of one a weight.

Only optimizers whose update treats every element on its own can do this (see
``Optimizer.elementwise_update``); the result is the same, bit for bit, as one
update a weight. The views hold while nothing rebinds a weight's or a slot's array
(``set_weights``, loading optimizer state, ``model.to``): each step checks, and
builds the buffers again from the current values when something was rebound.
"""

#: weights with at least this many elements are updated one at a time: copying their
#: gradient costs more than the call it would save
MAX_FLAT_SIZE = 1 << 16
#: builds in a row after which an optimizer stops flattening: its weights are rebound at
#: every step (a layer that reassigns a weight in its call), and updating them one at a
#: time costs less than building the buffers again
MAX_FLAT_BUILDS = 3


def flat_candidate(param, state: dict) -> bool:
    """Whether ``param`` (with its slots ``state``) can join the flat buffers: small, and
    every slot an array of its shape and dtype."""
    data = param.data
    if data.size >= MAX_FLAT_SIZE:
        return False
    return all(
        array is not None and array.shape == data.shape and array.dtype == data.dtype
        for array in state.values()
    )


class FlatWeights:
    """Weights (one backend, one dtype) and their slots stored in flat buffers.

    ``param``, ``grad`` and ``slots`` (by slot name) are the flat arrays an
    update kernel takes; building moves each weight's and slot's values into
    them and rebinds the weight's ``data`` and its slot entries to views.
    """

    def __init__(self, params: list, states: list[dict]):
        first = params[0].data
        xp, dtype = params[0].backend.xp, first.dtype
        total = sum(param.data.size for param in params)
        self.backend = params[0].backend
        self.param = xp.empty(total, dtype)
        self.grad = xp.empty(total, dtype)
        self.slots = {name: xp.empty(total, dtype) for name in states[0]}
        self.members = {id(param): index for index, param in enumerate(params)}
        self.params = list(params)
        #: per weight: (its data view, its gradient view, its state dict, its slot views)
        self.views = []
        start = 0
        for param, state in zip(params, states, strict=True):
            shape, stop = param.data.shape, start + param.data.size
            data = self.param[start:stop].reshape(shape)
            data[...] = param.data
            param.data = data
            slot_views = []
            for name, flat in self.slots.items():
                view = flat[start:stop].reshape(shape)
                view[...] = state[name]
                state[name] = view
                slot_views.append((name, view))
            self.views.append((data, self.grad[start:stop].reshape(shape), state, slot_views))
            start = stop

    def gather(self, weights) -> list | None:
        """Copy the gradients of the members among ``weights`` (``(param, grad, slots)``)
        into ``grad`` and return the other weights; None when the members are not all
        there, or one of them (or one of its slots) was rebound since the build."""
        others = []
        members, views = self.members, self.views
        for weight in weights:
            index = members.get(id(weight[0]))
            if index is None:
                others.append(weight)
                continue
            grad_view = self._grad_view(index, weight[0], weight[2])
            if grad_view is None:
                return None
            grad_view[...] = weight[1]
        if len(weights) - len(others) != len(views):
            return None
        return others

    def gather_all(self, params: list, slots: list, index: dict) -> bool:
        """Copy the gradients of ``params`` into ``grad`` when they are exactly the members,
        each with a gradient, none rebound since the build (``slots[index[id(param)]]`` is
        the optimizer's state dict of each); False otherwise (some may have been copied)."""
        members, views = self.members, self.views
        if len(params) != len(views):
            return False
        seen = 0  # a bit per member: a list naming one twice misses another
        for param in params:
            member = members.get(id(param))
            grad = param.grad
            if member is None or grad is None:
                return False
            position = index.get(id(param))
            if position is None:
                return False
            grad_view = self._grad_view(member, param, slots[position])
            if grad_view is None:
                return False
            grad_view[...] = grad.data
            seen |= 1 << member
        return seen == (1 << len(views)) - 1

    def _grad_view(self, member: int, param, state: dict):
        """Member ``member``'s view of ``grad`` while ``param`` and its slot dict ``state``
        are still the ones bound at the build (nothing rebound its data or a slot's array);
        else None."""
        data, grad_view, built_state, slot_views = self.views[member]
        if param.data is not data or state is not built_state:
            return None
        for name, view in slot_views:
            if state.get(name) is not view:
                return None
        return grad_view
