import ProtocolFiles
import Testing

@Suite("Durations are rounded before they are split into units")
struct DurationFormatTests {
    @Test(
        "boundary values never read 60 s or 60 min",
        arguments: [
            (0, "0 s"), (0.5, "0.5 s"), (59.99, "59.99 s"), (59.994, "59.99 s"), (59.996, "1 min"), (59.9996, "1 min"),
            (60, "1 min"),
            (60.4, "1 min"), (60.5, "1 min 1 s"), (119.4, "1 min 59 s"), (119.6, "2 min"), (375, "6 min 15 s"),
            (3599.4, "59 min 59 s"), (3599.5, "1 h"), (3599.96, "1 h"), (3600, "1 h"), (9000, "2.5 h"),
            (36_000, "10 h"), (-90, "-1 min 30 s"),
        ] as [(Double, String)])
    func boundaries(seconds: Double, expected: String) {
        #expect(formatDuration(seconds) == expected)
    }

    @Test("around every whole second up to 2 h, no value reads 60 of a unit or less than an hour in hours")
    func sweep() {
        var wrong: [String] = []
        for second in 0...7200 {
            for offset in [-0.5001, -0.5, -0.4999, -0.0051, -0.005, -0.0049, -0.0001, 0, 0.0001, 0.4999, 0.5] {
                let text = formatDuration(Double(second) + offset)
                let sixty = text.contains(" 60 s") || text.hasPrefix("60 min") || text.hasPrefix("60 s")
                if sixty || (text.hasSuffix(" h") && text.hasPrefix("0.")) { wrong.append(text) }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(10))")
    }
}
