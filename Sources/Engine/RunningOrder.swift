/// The latest values of a series, up to a capacity, kept both in arrival order and sorted, so that order
/// statistics cost a binary search instead of a sort per question.
///
/// The costs, for `n` values held: the median, a quantile and the range are read straight from the sorted values
/// (O(1)); the median absolute deviation about any centre is a binary search (O(log n)); adding a value finds the
/// oldest one and the new one's place by binary search (O(log n)) and moves only the values between the two places
/// by one slot (a single move of at most `n` doubles, usually far fewer). The windows the criteria use hold 15 to
/// 63 values, where that move is a few nanoseconds: cheaper than the pointer chasing of a balanced tree or a skip
/// list, whose every question would also cost O(log n) instead of O(1).
struct RunningOrder: Sendable {
    /// The values in arrival order (a ring); the oldest is at `next` once full.
    private var ring: [Double]
    /// The same values sorted, in the first `count` slots.
    private var sorted: [Double]
    private var next = 0
    private(set) var count = 0

    init(capacity: Int) {
        ring = [Double](repeating: 0, count: max(1, capacity))
        sorted = [Double](repeating: 0, count: max(1, capacity))
    }

    var capacity: Int { ring.count }
    var isFull: Bool { count == ring.count }

    mutating func removeAll() {
        next = 0
        count = 0
    }

    /// Adds a value, dropping the oldest when full. Non-finite values are ignored.
    mutating func add(_ value: Double) {
        guard value.isFinite else { return }
        if count == ring.count {
            let (removed, place) = firstIndices(notBelow: ring[next], value)
            replace(at: removed, with: value, place: place)
        } else {
            insert(value, at: firstIndices(notBelow: value, value).1)
            count += 1
        }
        ring[next] = value
        next = next + 1 == ring.count ? 0 : next + 1
    }

    /// Puts `value` where the sorted values hold `count` of them, at `place` (its first index not below it).
    private mutating func insert(_ value: Double, at place: Int) {
        sorted.withUnsafeMutableBufferPointer { values in
            var index = count
            while index > place {
                values[index] = values[index - 1]
                index -= 1
            }
            values[place] = value
        }
    }

    /// Replaces the sorted value at `removed` with `value`, whose first index not below it (before the removal) is
    /// `place`: only the values between the two move, by one slot.
    private mutating func replace(at removed: Int, with value: Double, place: Int) {
        sorted.withUnsafeMutableBufferPointer { values in
            if place > removed {
                // The values after the removed one and below the new one move down.
                for index in removed..<(place - 1) { values[index] = values[index + 1] }
                values[place - 1] = value
            } else {
                // The values from the new one's place up to the removed one move up.
                var index = removed
                while index > place {
                    values[index] = values[index - 1]
                    index -= 1
                }
                values[place] = value
            }
        }
    }

    /// The first index of the sorted values not below `first`, and the same for `second` (`count` when all are
    /// below): two binary searches side by side.
    ///
    /// Each search halves its window whatever a comparison says; the comparison only chooses where, by a select
    /// rather than a jump (on noisy values a jump is mispredicted half the time). Up to 128 values the steps are a
    /// fixed seven, which the compiler writes out without a loop (it turns a loop of selects back into jumps). The
    /// two searches do not depend on each other, so the processor runs their steps together.
    private func firstIndices(notBelow first: Double, _ second: Double) -> (Int, Int) {
        sorted.withUnsafeBufferPointer { values in
            guard count > 0 else { return (0, 0) }
            var firstBase = 0
            var secondBase = 0
            var length = count
            @inline(__always) func halve() {
                let half = length >> 1
                firstBase &+= values[firstBase &+ half] < first ? half : 0
                secondBase &+= values[secondBase &+ half] < second ? half : 0
                length &-= half
            }
            if count <= 128 {
                for _ in 0..<7 { halve() }
            } else {
                while length > 1 { halve() }
            }
            return (
                firstBase &+ (values[firstBase] < first ? 1 : 0), secondBase &+ (values[secondBase] < second ? 1 : 0)
            )
        }
    }

    /// The median of the values held; nil while empty.
    var median: Double? {
        guard count > 0 else { return nil }
        let middle = count / 2
        return count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The smallest and largest value held.
    var range: ClosedRange<Double>? { count > 0 ? sorted[0]...sorted[count - 1] : nil }

    /// The value at `fraction` of the way through the sorted values (nearest rank); nil while empty.
    func quantile(_ fraction: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = Int((fraction * Double(count - 1)).rounded())
        return sorted[min(max(rank, 0), count - 1)]
    }

    /// The values held in arrival order's storage (the oldest may be anywhere), for a scan on a rare event.
    var stored: ArraySlice<Double> { ring.prefix(count) }

    /// The k-th smallest absolute distance from `centre` (k from 0, below `count`), and the (k - 1)-th (k when k is
    /// 0), in O(log n).
    ///
    /// The k + 1 values nearest the centre are consecutive in sorted order, so the search is for where that run
    /// starts: a run starting at `start` is too far left while its first value is farther from the centre than the
    /// value just past its end. The k-th distance is the farther of the run's two ends; without that end, the run
    /// holds the k nearest values, and the farther of its new ends is the (k - 1)-th. (This search keeps its jumps:
    /// the run starts near the same place question after question, so they are well predicted.)
    private func distances(rank k: Int, from centre: Double) -> (kth: Double, previous: Double) {
        sorted.withUnsafeBufferPointer { values in
            var low = 0
            var high = count - (k + 1)
            while low < high {
                let start = (low + high) >> 1
                if centre - values[start] > values[start + k + 1] - centre { low = start + 1 } else { high = start }
            }
            let below = centre - values[low]
            let above = values[low + k] - centre
            guard k > 0 else { return (max(below, above), max(below, above)) }
            let previous =
                below >= above
                ? max(centre - values[low + 1], above) : max(below, values[low + k - 1] - centre)
            return (max(below, above), previous)
        }
    }

    /// The median absolute deviation from `centre` (the median when nil).
    func medianAbsoluteDeviation(from centre: Double? = nil) -> Double? {
        guard count > 0, let centre = centre ?? median else { return nil }
        let middle = count / 2
        let found = distances(rank: middle, from: centre)
        return count % 2 == 1 ? found.kth : (found.previous + found.kth) / 2
    }
}

/// A robust running location and scale of the latest values: their median, and the median absolute deviation as a
/// Gaussian standard deviation (a steady offset, such as a model's lag, does not inflate the scale).
struct RobustScale: Sendable {
    private var order: RunningOrder

    init(capacity: Int) {
        order = RunningOrder(capacity: capacity)
    }

    var count: Int { order.count }
    var capacity: Int { order.capacity }

    mutating func add(_ value: Double) { order.add(value) }

    mutating func removeAll() { order.removeAll() }

    /// The median of the values held; nil while empty.
    var median: Double? { order.median }

    /// The median absolute value as a Gaussian standard deviation (an offset counts as spread); nil until the
    /// window is half full.
    var scaleAboutZero: Double? {
        guard count * 2 >= capacity else { return nil }
        return order.medianAbsoluteDeviation(from: 0).map { $0 / 0.6745 }
    }

    /// The median absolute deviation from the median as a Gaussian standard deviation; nil until half full.
    var standardDeviation: Double? {
        guard count * 2 >= capacity else { return nil }
        return order.medianAbsoluteDeviation().map { $0 / 0.6745 }
    }
}
