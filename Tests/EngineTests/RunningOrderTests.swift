import TestSupport
import Testing

@testable import Engine

/// The naive answer to every question ``RunningOrder`` answers: keep the latest values in a plain array and sort a
/// copy for each question.
private struct SortedReference {
    let capacity: Int
    var latest: [Double] = []

    mutating func add(_ value: Double) {
        guard value.isFinite else { return }
        latest.append(value)
        if latest.count > capacity { latest.removeFirst() }
    }

    var sorted: [Double] { latest.sorted() }

    var median: Double? {
        let values = sorted
        guard !values.isEmpty else { return nil }
        let middle = values.count / 2
        return values.count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2
    }

    func quantile(_ fraction: Double) -> Double? {
        let values = sorted
        guard !values.isEmpty else { return nil }
        let rank = Int((fraction * Double(values.count - 1)).rounded())
        return values[min(max(rank, 0), values.count - 1)]
    }

    func medianAbsoluteDeviation(from centre: Double) -> Double? {
        let distances = latest.map { abs($0 - centre) }.sorted()
        guard !distances.isEmpty else { return nil }
        let middle = distances.count / 2
        return distances.count % 2 == 1 ? distances[middle] : (distances[middle - 1] + distances[middle]) / 2
    }
}

/// Values of three kinds: continuous, coarse (many exact ties, as a reading's resolution makes) and with rare
/// large outliers.
private func randomValue(_ kind: Int, _ generator: inout SplitMix64) -> Double {
    switch kind {
    case 0: return Double.random(in: -1...1, using: &generator)
    case 1: return Double(Int.random(in: -3...3, using: &generator)) * 0.001
    default:
        let base = Double.random(in: -0.01...0.01, using: &generator)
        return Int.random(in: 0..<20, using: &generator) == 0 ? base * 1000 : base
    }
}

@Suite("RunningOrder")
struct RunningOrderTests {
    @Test(
        "every order statistic equals a sort of the latest values, after every addition",
        arguments: [1, 2, 3, 15, 31, 32, 63])
    func matchesSortedReference(capacity: Int) {
        var generator = SplitMix64(seed: UInt64(capacity) &* 7919)
        for kind in 0..<3 {
            var order = RunningOrder(capacity: capacity)
            var reference = SortedReference(capacity: capacity)
            for index in 0..<(capacity * 12 + 50) {
                let value = randomValue(kind, &generator)
                order.add(value)
                reference.add(value)
                #expect(order.count == reference.latest.count, "count after \(index) additions")
                #expect(order.median == reference.median, "median, kind \(kind), after \(index) additions")
                for fraction in [0.0, 0.1, 0.5, 0.9, 1.0] {
                    #expect(order.quantile(fraction) == reference.quantile(fraction), "quantile \(fraction)")
                }
                let sorted = reference.sorted
                #expect(order.range == sorted.first!...sorted.last!)
                let median = reference.median!
                #expect(order.medianAbsoluteDeviation() == reference.medianAbsoluteDeviation(from: median))
                #expect(order.medianAbsoluteDeviation(from: 0) == reference.medianAbsoluteDeviation(from: 0))
                let centre = randomValue(kind, &generator) * 3
                #expect(
                    order.medianAbsoluteDeviation(from: centre) == reference.medianAbsoluteDeviation(from: centre),
                    "deviation from \(centre), kind \(kind), after \(index) additions")
                #expect(order.stored.sorted() == sorted, "the stored values are the latest ones")
            }
        }
    }

    @Test("non-finite values are left out, and emptying starts afresh")
    func ignoresNonFiniteAndEmpties() {
        var order = RunningOrder(capacity: 4)
        #expect(order.median == nil && order.range == nil && order.quantile(0.5) == nil)
        #expect(order.medianAbsoluteDeviation() == nil)
        for value in [3.0, .nan, 1.0, .infinity, 2.0, -.infinity] { order.add(value) }
        #expect(order.count == 3)
        #expect(order.median == 2)
        #expect(order.range == 1...3)
        #expect(order.medianAbsoluteDeviation() == 1)
        order.add(10)
        order.add(11)
        // Full at four: the oldest (3) went, leaving 1, 2, 10, 11.
        #expect(order.isFull)
        #expect(order.median == 6)
        #expect(order.range == 1...11)
        order.removeAll()
        #expect(order.count == 0 && order.median == nil)
        order.add(-5)
        #expect(order.median == -5 && order.range == -5 ... -5 && order.stored.elementsEqual([-5]))
    }

    @Test("a robust scale is the deviation over 0.6745 and waits until half full")
    func robustScale() {
        var scale = RobustScale(capacity: 6)
        for value in [1.0, 2.0] { scale.add(value) }
        #expect(scale.standardDeviation == nil)
        scale.add(4)
        // 1, 2, 4: median 2, deviations 1, 0, 2, their median 1.
        #expect(scale.standardDeviation == 1 / 0.6745)
        // |values| 1, 2, 4: median 2.
        #expect(scale.scaleAboutZero == 2 / 0.6745)
    }
}
