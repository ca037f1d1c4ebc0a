package ai.sentryagent.idp;

import java.util.List;

/**
 * One page of a list; {@code nextPageToken} is empty on the last.
 *
 * @param <T> the item type
 */
public record Page<T>(List<T> items, String nextPageToken) {
  public Page {
    items = items == null ? List.of() : List.copyOf(items);
    nextPageToken = nextPageToken == null ? "" : nextPageToken;
  }

  /** Whether another page follows. */
  public boolean hasNext() {
    return !nextPageToken.isEmpty();
  }
}
