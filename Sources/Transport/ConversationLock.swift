/// A first-come, first-served lock over one instrument conversation.
///
/// Actors are reentrant: while one driver call waits for a reply, another call (an operator's stop, say) may
/// start and read the first call's reply. A driver takes this lock around every request/reply exchange so that
/// exchanges never interleave; later callers wait their turn in arrival order.
public actor ConversationLock {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    /// Waits until the lock is free and takes it. Pair every call with `release()`.
    public func acquire() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Hands the lock to the next waiter, or frees it.
    public func release() {
        if waiters.isEmpty {
            held = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
