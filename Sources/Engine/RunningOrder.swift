/// The latest values of a series, up to a capacity, kept both in arrival order and sorted, so that order
/// statistics (median, median absolute deviation) cost a binary search and a short move per new value instead of a
/// sort per question.
struct RunningOrder: Sendable {
    /// The values in arrival order (a ring) and the same values sorted.
    private var ring: [Double]
    private var sorted: [Double]
    private var next = 0
    private(set) var count = 0

    init(capacity: Int) {
        ring = [Double](repeating: 0, count: max(1, capacity))
        sorted = []
        sorted.reserveCapacity(max(1, capacity))
    }

    var capacity: Int { ring.count }
    var isFull: Bool { count == ring.count }

    mutating func removeAll() {
        next = 0
        count = 0
        sorted.removeAll(keepingCapacity: true)
    }

    /// Adds a value, dropping the oldest when full. Non-finite values are ignored.
    mutating func add(_ value: Double) {
        guard value.isFinite else { return }
        if count == ring.count {
            let oldest = ring[next]
            sorted.remove(at: position(of: oldest))
        } else {
            count += 1
        }
        ring[next] = value
        next = (next + 1) % ring.count
        sorted.insert(value, at: insertionPoint(for: value))
    }

    /// The first index whose value is not below `value`.
    private func insertionPoint(for value: Double) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func position(of value: Double) -> Int {
        let index = insertionPoint(for: value)
        return index < sorted.count ? index : sorted.count - 1
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

    /// The k-th smallest absolute distance from `centre` (k from 0), found by walking outwards from the centre's
    /// place in the sorted values: O(k), no sort.
    private func distance(rank k: Int, from centre: Double) -> Double {
        var below = insertionPoint(for: centre) - 1
        var above = below + 1
        var found = 0.0
        for _ in 0...k {
            let down = below >= 0 ? centre - sorted[below] : .infinity
            let up = above < count ? sorted[above] - centre : .infinity
            if down <= up {
                found = down
                below -= 1
            } else {
                found = up
                above += 1
            }
        }
        return found
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
