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
        let place = firstIndex(notBelow: value)
        if count == ring.count {
            replace(at: firstIndex(notBelow: ring[next]), with: value, place: place)
        } else {
            insert(value, at: place)
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

    /// The first index of the sorted values whose value is not below `value` (`count` when all are below).
    private func firstIndex(notBelow value: Double) -> Int {
        sorted.withUnsafeBufferPointer { values in
            leadingCount(among: count) { values[$0] < value }
        }
    }

    /// How many of the indices `0..<candidates`, from the first, satisfy `isBefore`, which holds for a leading run
    /// of them and for none after: a binary search.
    ///
    /// Whatever each comparison says, the window halves, and the comparison only chooses where (the processor
    /// selects rather than guesses, which on noisy values it would guess wrong half the time). Up to 128
    /// candidates the steps are a fixed seven, which the compiler writes out without a loop; a loop of selects
    /// would be turned back into jumps.
    @inline(__always)
    private func leadingCount(among candidates: Int, _ isBefore: (Int) -> Bool) -> Int {
        guard candidates > 0 else { return 0 }
        var base = 0
        var length = candidates
        @inline(__always) func halve() {
            let half = length >> 1
            base &+= isBefore(base &+ half) ? half : 0
            length &-= half
        }
        if candidates <= 128 {
            for _ in 0..<7 { halve() }
        } else {
            while length > 1 { halve() }
        }
        return base &+ (isBefore(base) ? 1 : 0)
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

    /// The k-th smallest absolute distance from `centre` (k from 0, below `count`), in O(log n).
    ///
    /// The k + 1 values nearest the centre are consecutive in sorted order, so the search is for where that run
    /// starts: a run starting at `start` is too far left while its first value is farther from the centre than the
    /// value just past its end. The distance asked for is the farther of the run's two ends.
    private func distance(rank k: Int, from centre: Double) -> Double {
        sorted.withUnsafeBufferPointer { values in
            // Runs starting at 0..<(count - k - 1) can be compared with the value past their end; the last cannot
            // be too far left.
            let start = leadingCount(among: count - k - 1) { centre - values[$0] > values[$0 + k + 1] - centre }
            return max(centre - values[start], values[start + k] - centre)
        }
    }

    /// The median absolute deviation from `centre` (the median when nil).
    func medianAbsoluteDeviation(from centre: Double? = nil) -> Double? {
        guard count > 0, let centre = centre ?? median else { return nil }
        let middle = count / 2
        if count % 2 == 1 { return distance(rank: middle, from: centre) }
        return (distance(rank: middle - 1, from: centre) + distance(rank: middle, from: centre)) / 2
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
