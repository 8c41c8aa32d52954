"""Storage: destinations, staging, and the commit protocol that publishes a write all or nothing.

The commit protocol
===================

A destination ``D = <parent>/<name>`` is a local folder or an object-store prefix. Its
*output* is the set of files its manifest ``D/_bulkwriter.json`` lists; the manifest is the
commit marker. Everything a write does before it commits happens in the destination's
staging area ``A = <parent>/.bulkwriter-staging/<name>/``, beside ``D`` and never inside it,
in the write's own folder ``S = A/<write id>/`` (:mod:`~bulkwriter.storage.layout`).
Committed files are named ``part-<index>-<write id><suffix>``, so no write reuses a name.

States of one write, what a reader of ``D`` sees in each, and what a failure or a kill in
that state leaves behind:

====  ==========================  ==================================  =====================================
 #    state                       visible under D                     failure / SIGKILL leaves
====  ==========================  ==================================  =====================================
 0    OPEN: lock ``A/_lock.json``  the old output (or nothing)         a stale lock: same host, the next
      taken, D scanned                                                writer takes it over; ``clean``
 1    STAGING: files uploaded     the old output                      files in S only (invisible); failure
      whole into ``S/shards/``                                        removes them, a kill leaves them
                                                                      for the next writer or ``clean``
 2    PREPARED: journal           the old output                      as 1; the journal says nothing was
      ``S/_commit.json`` written                                      published
 3    PUBLISHING                  see below, per store                undone by the writer on failure;
                                                                      after a kill, ``inspect`` reports it
                                                                      and writes refuse D until ``clean``
                                                                      or ``mode="overwrite"``
 4    COMMITTED: the manifest     the new output                      (the commit point)
      names this write
 5    CLEANUP: old files and S    the new output (object stores:      leftovers the journal names; inspect
      removed, lock released      plus old files not yet removed)     reports them, ``clean`` removes them
====  ==========================  ==================================  =====================================

Publishing (state 3) on **local disks and POSIX filesystems**, with renames: a reader of D
sees the old output or the new one, never a mix.

* New destination: parts are renamed into ``S/out/`` with the manifest, then ``S/out`` is
  renamed to ``D`` in one step (an empty folder at ``D`` is exchanged instead).
* Overwrite: the same ``S/out``, then one atomic exchange of ``S/out`` and ``D``
  (:func:`~bulkwriter.storage.posix.exchange`: ``renameat2(RENAME_EXCHANGE)`` on Linux,
  ``renamex_np`` on macOS); the old output lands in ``S`` and is deleted with it. Without an
  exchange: ``D`` is renamed to ``S/old`` and ``S/out`` to ``D``; between the two ``D`` is
  briefly absent (never mixed), and a kill there is undone by ``clean``, which puts the
  old output back.
* Append: each new file is renamed into ``D`` under its new name (visible but listed by no
  manifest until the next step), then the merged manifest replaces the old one by rename.
  A failure removes the renamed files; a kill leaves them as orphans named in the journal.

Publishing on **object stores** (S3 and compatibles, GCS, Azure; no rename): every object
is copied from ``S`` to its final name (the journal lists them all before the first copy),
then the manifest is written with the store's conditional write (only if unchanged since
the write opened, or only if absent: :mod:`~bulkwriter.storage.conditional`). Between the
first copy and the manifest, the new files are under ``D`` but no manifest lists them (an
import of the prefix started in that moment would read them); a failure deletes exactly the
objects this write copied; the old output is deleted only after the new manifest is written.

One writer per destination: the lock is taken at open and checked just before the commit
point, together with a check that the manifest is still the one the write opened on
(:mod:`~bulkwriter.storage.lock`). A second writer gets
:class:`~bulkwriter.errors.ConcurrentWriteError`; it never reports rows that are not there.

After a failure or a kill, ``inspect`` (:mod:`~bulkwriter.storage.recovery`) names every
file under ``D`` that the manifest does not list and every leftover write folder; a write in
mode ``"error"`` or ``"append"`` refuses such a destination
(:class:`~bulkwriter.errors.UncleanDestinationError`), ``mode="overwrite"`` replaces it, and
``clean`` puts it right using the journals: an unfinished commit is undone, a committed
one's leftovers are removed, a parked output goes back.

Modules
=======

* :mod:`~bulkwriter.storage.location` - URL + ``storage_options`` (or a filesystem) to a
  location; import path forms; credential redaction.
* :mod:`~bulkwriter.storage.layout` - every path of a destination; part names.
* :mod:`~bulkwriter.storage.transaction` - :class:`Transaction`: open, stage, commit, abort.
* :mod:`~bulkwriter.storage.staging` - :class:`Stager`: uploads of one writer's files.
* :mod:`~bulkwriter.storage.publish` - the steps of each commit method and their undo.
* :mod:`~bulkwriter.storage.manifest`, :mod:`~bulkwriter.storage.journal` - the records.
* :mod:`~bulkwriter.storage.lock`, :mod:`~bulkwriter.storage.conditional`,
  :mod:`~bulkwriter.storage.posix` - mutual exclusion and atomic operations.
* :mod:`~bulkwriter.storage.recovery` - scan, inspect, clean.
* :mod:`~bulkwriter.storage.retry` - :class:`RetryPolicy`, transient-error classification,
  mapping to :class:`~bulkwriter.errors.StorageError`.
"""

from bulkwriter.storage.layout import MANIFEST_NAME, STAGING_DIR
from bulkwriter.storage.location import Location, resolve
from bulkwriter.storage.manifest import Manifest, ManifestFile, OutputSpec
from bulkwriter.storage.retry import RetryPolicy, is_transient
from bulkwriter.storage.staging import StagedPart, Stager
from bulkwriter.storage.transaction import Mode, Transaction

__all__ = [
    "MANIFEST_NAME",
    "STAGING_DIR",
    "Location",
    "Manifest",
    "ManifestFile",
    "Mode",
    "OutputSpec",
    "RetryPolicy",
    "StagedPart",
    "Stager",
    "Transaction",
    "is_transient",
    "resolve",
]
