package ai.sentryagent.idp;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/** Lazy iteration over pages, and argument checks that fail the future rather than throw. */
final class Pages {
  private Pages() {}

  static <T> Stream<T> stream(Function<String, CompletableFuture<Page<T>>> fetch) {
    Iterator<T> it =
        new Iterator<>() {
          private Iterator<T> items = null;
          private String next = null;
          private boolean last = false;

          @Override
          public boolean hasNext() {
            while (items == null || !items.hasNext()) {
              if (last) {
                return false;
              }
              Page<T> p = Transport.join(fetch.apply(next));
              items = p.items().iterator();
              next = p.nextPageToken();
              last = !p.hasNext();
            }
            return true;
          }

          @Override
          public T next() {
            if (!hasNext()) {
              throw new NoSuchElementException();
            }
            return items.next();
          }
        };
    return StreamSupport.stream(
        Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED | Spliterator.NONNULL), false);
  }

  static <T> CompletableFuture<T> guard(Supplier<CompletableFuture<T>> call) {
    try {
      return call.get();
    } catch (AgentIdPException e) {
      return CompletableFuture.failedFuture(e);
    }
  }
}
