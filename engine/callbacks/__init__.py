"""Callbacks with Keras 3's names, hooks and logs (``engine.callbacks.<Name>``).

``base``: the ``Callback`` class, the ``CallbackList`` that calls the hooks, ``History``,
``ProgbarLogger``, ``LambdaCallback``; ``monitors``: the callbacks that watch a metric or the
loss (``EarlyStopping``, ``ReduceLROnPlateau``, ``LearningRateScheduler``, ``TerminateOnNaN``);
``checkpoints``: ``ModelCheckpoint``, ``BackupAndRestore``; ``loggers``: ``CSVLogger``,
``TensorBoard`` (and ``RemoteMonitor``, which only says why it is not available).
"""

from .base import Callback, CallbackList, History, LambdaCallback, ProgbarLogger, wants_batch_logs
from .checkpoints import BackupAndRestore, ModelCheckpoint
from .loggers import CSVLogger, RemoteMonitor, TensorBoard
from .monitors import EarlyStopping, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "RemoteMonitor",
    "TensorBoard",
    "TerminateOnNaN",
    "wants_batch_logs",
]
