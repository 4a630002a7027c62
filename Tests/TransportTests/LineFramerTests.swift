import Testing
import Transport

private func frame(_ chunks: [[UInt8]], _ configuration: LineFramer.Configuration) -> [LineFramer.Output] {
    var framer = LineFramer(configuration)
    return chunks.flatMap { framer.push($0) }
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct LineFramerTests {
    let lf = LineFramer.Configuration(terminator: .lf)
    let any = LineFramer.Configuration(terminator: .crOrLF)

    @Test func lfModeSplitsOnLineFeedAndDropsCarriageReturns() {
        let outputs = frame([bytes("t\r\nR*\n\nP1\n")], lf)
        #expect(outputs == [.line("t"), .line("R*"), .line(""), .line("P1")])
    }

    @Test func partialLineStaysPendingUntilTerminated() {
        var framer = LineFramer(lf)
        #expect(framer.push(bytes("abc")).isEmpty)
        #expect(framer.pendingBytes == bytes("abc"))
        #expect(framer.push(bytes("d\n")) == [.line("abcd")])
        #expect(framer.pendingBytes.isEmpty)
    }

    @Test func crModeSplitsOnCarriageReturnAndDropsLineFeeds() {
        let configuration = LineFramer.Configuration(terminator: .cr)
        #expect(frame([bytes("1\r\n2\r")], configuration) == [.line("1"), .line("2")])
    }

    @Test func crOrLFTreatsEveryPairAsOneTerminator() {
        let outputs = frame([bytes("a\r\nb\n\rc\rd\ne\r\n\r\n")], any)
        #expect(outputs == [.line("a"), .line("b"), .line("c"), .line("d"), .line("e"), .line("")])
    }

    @Test func crOrLFKeepsTwoLineFeedsAsAnEmptyLine() {
        #expect(frame([bytes("a\n\nb\n")], any) == [.line("a"), .line(""), .line("b")])
    }

    @Test func nulAndFlowControlBytesAreDroppedAnywhere() {
        let input: [UInt8] = [0x11, 0x00] + bytes("e") + [0x13, 0x00] + bytes("s\n")
        #expect(frame([input], lf) == [.line("es")])
    }

    @Test func lineWithControlCharactersIsReportedAsGarbledAndFramingContinues() {
        let input: [UInt8] = bytes("ok\n") + [0x41, 0x07, 0xFF] + bytes("\nnext\n")
        #expect(frame([input], lf) == [.line("ok"), .garbled([0x41, 0x07, 0xFF]), .line("next")])
    }

    @Test func tabsAreText() {
        #expect(frame([bytes("a\tb\n")], lf) == [.line("a\tb")])
    }

    @Test func overlongLineIsReportedOnceAndItsRestDiscarded() {
        let configuration = LineFramer.Configuration(terminator: .lf, maxLineLength: 4)
        let outputs = frame([bytes("abcd\nabcdefghij\nxy\n")], configuration)
        #expect(outputs == [.line("abcd"), .overlong(bytes("abcd")), .line("xy")])
    }

    @Test(arguments: [LineFramer.Terminator.lf, .cr, .crOrLF])
    func outputDoesNotDependOnChunking(terminator: LineFramer.Terminator) {
        let configuration = LineFramer.Configuration(terminator: terminator, maxLineLength: 8)
        let stream: [UInt8] =
            bytes("t\r\n") + [0x11] + bytes("tes4_hr\r\n\r\n") + [0x00, 0x1B] + bytes("x\n\r")
            + bytes("0123456789abc\r\nend\n")
        let whole = frame([stream], configuration)
        #expect(!whole.isEmpty)
        let byteByByte = frame(stream.map { [$0] }, configuration)
        #expect(byteByByte == whole)
        for offset in 0...stream.count {
            let split = frame([Array(stream[..<offset]), Array(stream[offset...])], configuration)
            #expect(split == whole, "split at \(offset)")
        }
    }

    @Test func resetForgetsPartialLine() {
        var framer = LineFramer(lf)
        _ = framer.push(bytes("garbage"))
        framer.reset()
        #expect(framer.push(bytes("ok\n")) == [.line("ok")])
    }
}
