package ai.sentryagent.idp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The README's quickstart is src/test/java/quickstart/Quickstart.java verbatim, and it runs. */
class QuickstartTest {
  static final String FILE = "src/test/java/quickstart/Quickstart.java";

  static String readmeBlock(String file) throws IOException {
    String readme = Files.readString(Path.of("README.md"));
    String marker = "<!-- quickstart: " + file + " -->\n";
    int at = readme.indexOf(marker);
    assertTrue(at >= 0, "README.md has no " + marker.strip() + " marker");
    String after = readme.substring(at + marker.length());
    String block = after.substring(after.indexOf('\n') + 1); // skip the opening fence
    int end = block.indexOf("```\n");
    assertTrue(end >= 0, "the quickstart code block is not closed");
    return block.substring(0, end);
  }

  @Test
  void isInTheReadme() throws IOException {
    assertEquals(Files.readString(Path.of(FILE)), readmeBlock(FILE),
        "README.md's quickstart differs from " + FILE + ": copy the file into the README");
  }

  @Test
  void runsAgainstTheLiveMesh() {
    assumeTrue(ContractTest.Mesh.fromEnv() != null, ContractTest.NO_MESH);
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      quickstart.Quickstart.main(new String[0]);
    } finally {
      System.setOut(old);
    }
    String out = buf.toString(StandardCharsets.UTF_8);
    for (String want : List.of("secret [REDACTED]", "I am invoice-bot and I am active", "AGENT_NOT_FOUND 404")) {
      assertTrue(out.contains(want), "the quickstart's output lacks " + want + ":\n" + out);
    }
  }
}
