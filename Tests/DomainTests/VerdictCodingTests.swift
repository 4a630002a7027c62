import Domain
import Foundation
import Testing

@Suite("verdicts always encode as JSON")
struct VerdictCodingTests {
    @Test("non-finite evidence is kept out of the numbers, named, and written as null")
    func nonFiniteEvidence() throws {
        let verdict = Verdict(
            criterion: "voiding", action: .warn, reason: "test", time_s: 12, onsetTime_s: .nan,
            currentDensity_mA_cm2: 2,
            evidence: ["rise_V": 0.01, "noise_V": .infinity, "slope": -.infinity, "ratio": .nan])
        #expect(verdict.evidence == ["rise_V": 0.01])
        #expect(verdict.undefinedEvidence == ["noise_V", "ratio", "slope"])
        let data = try JSONEncoder().encode(verdict)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let evidence = try #require(object["evidence"] as? [String: Any])
        #expect(evidence["rise_V"] as? Double == 0.01)
        #expect(evidence["noise_V"] is NSNull)
        #expect(object["onsetTime_s"] == nil, "a non-finite onset is left out")
        let decoded = try JSONDecoder().decode(Verdict.self, from: data)
        #expect(decoded.evidence == verdict.evidence)
        #expect(decoded.undefinedEvidence == verdict.undefinedEvidence)
    }

    @Test("evidence set later is filtered the same way")
    func laterEvidence() throws {
        var verdict = Verdict(criterion: "c", action: .stop, reason: "r", time_s: 1)
        verdict.evidence["x"] = 1
        verdict.evidence["y"] = .infinity
        #expect(verdict.evidence == ["x": 1])
        #expect(verdict.undefinedEvidence == ["y"])
        _ = try JSONEncoder().encode(verdict)
    }

    @Test("a verdict stored before this encoding decodes as it was")
    func olderJSON() throws {
        let text = #"{"criterion":"hard-short","action":"stop","reason":"r","time_s":5,"evidence":{"a":1.5}}"#
        let verdict = try JSONDecoder().decode(Verdict.self, from: Data(text.utf8))
        #expect(verdict.evidence == ["a": 1.5])
        #expect(verdict.time_s == 5)
        #expect(verdict.onsetTime_s == nil)
    }
}
